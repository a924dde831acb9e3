// The `cnnc summary` table, for people: one row per layer, then the totals with units.
import { formatShape } from "../ir/graph.js";
import type { Pair } from "../ops/index.js";
import { rowsAtDepth, type NetworkReport } from "./summary.js";

export function grouped(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** 1234567 -> "1.23M": three significant digits with an SI suffix. */
export function compact(n: number): string {
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [size, unit] of units) {
    if (Math.abs(n) >= size) return `${(n / size).toPrecision(3)}${unit}`;
  }
  return String(n);
}

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

function pairText(p: Pair): string {
  const f = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  return p[0] === p[1] ? f(p[0]) : `${f(p[0])}x${f(p[1])}`;
}

/** Whether some layer reads other than the one before it (a branch, a merge, a skip). */
function branches(report: NetworkReport): boolean {
  return report.layers.some((l, i) => {
    const previous = i === 0 ? report.inputs[0]?.name : report.layers[i - 1]!.name;
    return l.inputs.length !== 1 || l.inputs[0] !== previous;
  });
}

export function formatSummary(report: NetworkReport, options: { depth?: number } = {}): string {
  const rows = rowsAtDepth(report, options.depth);
  const connected = branches(report);
  const header = [
    ...["layer", "op", "output", "kernel", "stride", "params", "units", "connections", "MACs"],
    ...["RF", "jump", "activations", ...(connected ? ["connected to"] : [])],
  ];
  const cells = rows.map((l) => [
    l.name,
    l.layers > 1 || l.op === "block" ? `block of ${l.layers}` : l.op,
    formatShape(l.output),
    l.kernel ? pairText(l.kernel) : "",
    l.stride ? pairText(l.stride) : "",
    grouped(l.params),
    grouped(l.units),
    grouped(l.connections),
    l.macs ? compact(l.macs) : "0",
    l.global ? "global" : pairText(l.rf),
    l.global ? "-" : pairText(l.jump),
    bytes(l.activationBytes),
    ...(connected ? [l.inputs.join(", ")] : []),
  ]);
  const right = new Set([3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (row: string[]): string =>
    row
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const io = (xs: NetworkReport["inputs"]): string =>
    xs.map((x) => `${x.name} ${formatShape(x.shape)}`).join(", ");
  const t = report.totals;
  const m = t.memory;
  const b = `batch ${report.batch}`;
  const out = [
    `network ${report.network}: ${io(report.inputs)} -> ${io(report.outputs)}`,
    "",
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...cells.map(line),
    "",
    `layers            ${report.layers.length}${rows.length < report.layers.length ? ` (${rows.length} rows at depth ${options.depth})` : ""}`,
    `trainable params  ${grouped(t.params)} (weights, biases, BN gamma and beta)`,
    `non-trainable     ${grouped(t.bnStats)} (BN running mean and variance)`,
    `units             ${grouped(t.units)} (every layer's output activations, ${b})`,
    `connections       ${grouped(t.connections)} (the inputs each unit reads, a bias counting as one)`,
    `MACs              ${grouped(t.macs)} (${compact(t.macs)}; conv and dense layers, ${b})`,
    `backward MACs     ${grouped(t.backwardMacs)} (2 per forward MAC: the weight's and the input's gradient)`,
    `FLOPs             ${grouped(t.flops)} (${compact(t.flops)}; 2 per MAC, plus every add, compare and activation)`,
    `receptive field   ${t.rf ? `${pairText(t.rf)} pixels (the last local feature map)` : "n/a (no spatial layers)"}`,
    `input size        ${bytes(m.inputBytes)} (${b}, f32)`,
    `params size       ${bytes(m.paramBytes)} (trainable and not, f32)`,
    `activations       ${bytes(t.activationBytes)} (every layer output, ${b}, f32, unplanned)`,
    `forward/backward  ${bytes(m.forwardBackwardBytes)} (every output and its gradient, for training)`,
    `estimated total   ${bytes(m.totalBytes)} (input + params + forward/backward, as torchsummary)`,
  ];
  return out.join("\n") + "\n";
}
