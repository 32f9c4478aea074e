// An AssemblyScript module with imports the host does not provide, next to
// the standard env imports it does (abort, seed): checkImports must name
// exactly env.nosuch and extism:host/user.hello.
@external("env", "nosuch")
declare function nosuch(): void;

@external("extism:host/user", "hello")
declare function hello(x: u64): u64;

export function run(): i32 {
  nosuch();
  const a: i32[] = [];
  return <i32>hello(<u64>(Math.random() * 10)) + a[1];
}
