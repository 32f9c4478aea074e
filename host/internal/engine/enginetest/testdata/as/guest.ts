// The AssemblyScript guest of the engine suite (enginetest.testAS), built
// with the pinned compiler and @extism/as-pdk: asc guest.ts -O2
// --exportStart _initialize. It uses every standard env import that
// AssemblyScript emits (abort, seed, Date.now, console.log, trace).
import { Host, Config, LogLevel } from "@extism/as-pdk";

// Module-level code runs in _initialize, after the kernel is ready.
const greeting = Config.get("greeting");

function out(s: string): void {
  // Host.outputString sizes its output in UTF-16 units (as-pdk 1.0.0):
  // UTF-8 bytes are what the host reads.
  Host.output(Uint8Array.wrap(String.UTF8.encode(s)));
}

export function greet(): i32 {
  out(greeting == null ? "none" : greeting!);
  return 0;
}

export function echo(): i32 {
  out(Host.inputString());
  return 0;
}

export function logs(): i32 {
  Host.log(LogLevel.Debug, "as debug line");
  Host.log(LogLevel.Info, "as info line");
  Host.log(LogLevel.Warn, "as warn line");
  Host.log(LogLevel.Error, "as error line");
  console.log("as console line é");
  trace("as trace line", 2, 1.5, 2.5);
  return 0;
}

export function crash(): i32 {
  const a: i32[] = [];
  return a[Host.input().length + 3];
}

export function entropy(): i32 {
  out(Math.random().toString() + " " + Date.now().toString());
  return 0;
}
