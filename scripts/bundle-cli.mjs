// The CLI as one file: `tsc` leaves a module per source file, and chevrotain loads lodash-es, a
// package of 644 one-function modules: every command spent 0.7 s starting. Bundled, `cnnc --version`
// starts in 0.3 s. The library (`cnnc`, `cnnc/runtime`) stays as tsc wrote it; webgpu (a
// native addon) is loaded from node_modules.
import { chmodSync, rmSync } from "node:fs";
import { build } from "esbuild";

const out = "dist/cli/bin.js";
await build({
  entryPoints: [out],
  outfile: out,
  allowOverwrite: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["webgpu"],
  // CommonJS dependencies bundled into an ES module still call require().
  banner: {
    js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
  },
  logLevel: "error",
});
rmSync(`${out}.map`, { force: true }); // (tsc's map described the unbundled file)
chmodSync(out, 0o755);
