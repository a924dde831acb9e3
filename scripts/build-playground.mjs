// Builds the playground into dist/playground: one ES module bundle (compiler, runtime, editor)
// and the page. esbuild: the compiler is TypeScript and the examples are .cnn text files.
// Beside them, the Train tab's sample: the first 2,000 training and 500 test images of
// Fashion-MNIST (Debian's dataset-fashion-mnist, which scripts/setup.sh installs), as IDX files.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
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

/** The first `n` items of an IDX file: its header with the first size set to n, then n items. */
function head(file, n) {
  const bytes = gunzipSync(readFileSync(file));
  const rank = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const per = Array.from({ length: rank - 1 }, (_, i) => view.getUint32(8 + 4 * i)).reduce(
    (a, b) => a * b,
    1,
  );
  const start = 4 + 4 * rank;
  const out = Buffer.from(bytes.subarray(0, start + n * per));
  out.writeUInt32BE(n, 4);
  return gzipSync(out);
}

const data = "/usr/share/datasets/fashion-mnist";
if (existsSync(`${data}/train-images-idx3-ubyte.gz`)) {
  mkdirSync("dist/playground/fashion", { recursive: true });
  for (const [from, to, n] of [
    ["train-images-idx3-ubyte", "train-images", 2000],
    ["train-labels-idx1-ubyte", "train-labels", 2000],
    ["t10k-images-idx3-ubyte", "test-images", 500],
    ["t10k-labels-idx1-ubyte", "test-labels", 500],
  ])
    writeFileSync(`dist/playground/fashion/${to}.gz`, head(`${data}/${from}.gz`, n));
  console.log("wrote dist/playground (index.html, app.js, the Fashion-MNIST sample)");
} else
  console.log(
    `wrote dist/playground (index.html, app.js); no Fashion-MNIST at ${data}: the Train tab has no sample`,
  );
