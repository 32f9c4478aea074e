// npm run sizes: each package's size as an app ships it, minified and
// gzipped: dist/index.js bundled with esbuild, peer and sibling packages
// (react, @tanstack/react-query, @authhost/client) left external.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";

const packages = ["client", "react"];
const external = ["react", "react/jsx-runtime", "react-dom", "@tanstack/react-query", "@authhost/client"];

for (const name of packages) {
  const out = await build({
    entryPoints: [new URL(`../packages/${name}/dist/index.js`, import.meta.url).pathname],
    bundle: true,
    minify: true,
    format: "esm",
    write: false,
    external,
  });
  const code = out.outputFiles[0].contents;
  console.log(`@authhost/${name}: ${code.length} B minified, ${gzipSync(code, { level: 9 }).length} B minified+gzip`);
}
