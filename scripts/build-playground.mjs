// Builds the playground into dist/playground: one ES module bundle (compiler, runtime, editor)
// and the page. esbuild: the compiler is TypeScript and the examples are .cnn text files.
import { copyFileSync, mkdirSync } from "node:fs";
import { build } from "esbuild";

mkdirSync("dist/playground", { recursive: true });
await build({
  entryPoints: ["playground/main.ts"],
  outfile: "dist/playground/app.js",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: true,
  loader: { ".cnn": "text" },
  // The runtime's Node paths (files, the Node device helper) are never taken in a page.
  external: [],
  logLevel: "warning",
});
copyFileSync("playground/index.html", "dist/playground/index.html");
console.log("wrote dist/playground (index.html, app.js)");
