// `npm run bench`: how long the front end takes (parse, lower, infer shapes, verify, analyse)
// on every example network; median of repeated runs after a warm-up. GPU benchmarks against
// TensorFlow.js and ONNX Runtime join this table once the runtime exists.
import { readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { nodeHost } from "../dist/cli/host.js";
import { summarize } from "../dist/compiler/analysis/index.js";
import { compileFrontend } from "../dist/compiler/lower/index.js";

const runs = Number(process.env.BENCH_RUNS ?? 20);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const rows = [];
for (const file of readdirSync("examples")
  .filter((f) => f.endsWith(".cnn"))
  .sort()) {
  const path = `examples/${file}`;
  const once = () => {
    const r = compileFrontend(path, nodeHost);
    if (!r.graph) throw new Error(`${path} does not compile`);
    return summarize(r.graph);
  };
  once();
  const times = [];
  let report;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    report = once();
    times.push(performance.now() - t0);
  }
  rows.push([report.network, String(report.layers.length), median(times).toFixed(2)]);
}

const header = ["network", "layers", "front end (ms, median)"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) =>
  cells.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
console.log(`cnnc front end, ${runs} runs each, Node ${process.version}`);
console.log(line(header));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const r of rows) console.log(line(r));
