// The `cnnc summary` table, for people: one row per layer, then the totals with units.
import { formatShape } from "../ir/graph.js";
import type { Pair } from "../ops/index.js";
import type { NetworkReport } from "./summary.js";

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

export function formatSummary(report: NetworkReport): string {
  const header = [
    ...["layer", "op", "output", "params", "units", "connections", "MACs"],
    ...["RF", "jump", "activations"],
  ];
  const rows = report.layers.map((l) => [
    l.name,
    l.op,
    formatShape(l.output),
    grouped(l.params),
    grouped(l.units),
    grouped(l.connections),
    l.macs ? compact(l.macs) : "0",
    l.global ? "global" : pairText(l.rf),
    l.global ? "-" : pairText(l.jump),
    bytes(l.activationBytes),
  ]);
  const right = new Set([3, 4, 5, 6, 7, 8, 9]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const io = (xs: NetworkReport["inputs"]): string =>
    xs.map((x) => `${x.name} ${formatShape(x.shape)}`).join(", ");
  const t = report.totals;
  const out = [
    `network ${report.network}: ${io(report.inputs)} -> ${io(report.outputs)}`,
    "",
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    `layers           ${report.layers.length}`,
    `params           ${grouped(t.params)} (${bytes(t.params * 4)} as f32)`,
    `BN statistics    ${grouped(t.bnStats)} (running mean and variance; not parameters)`,
    `units            ${grouped(t.units)} (every layer's output activations, batch 1)`,
    `connections      ${grouped(t.connections)} (the inputs each unit reads, a bias counting as one)`,
    `MACs             ${grouped(t.macs)} (${compact(t.macs)}; conv and dense layers, batch 1)`,
    `backward MACs    ${grouped(t.backwardMacs)} (2 per forward MAC: the weight's and the input's gradient)`,
    `FLOPs            ${grouped(t.flops)} (${compact(t.flops)}; 2 per MAC, plus every add, compare and activation)`,
    `receptive field  ${t.rf ? `${pairText(t.rf)} pixels (the last local feature map)` : "n/a (no spatial layers)"}`,
    `activations      ${bytes(t.activationBytes)} (every layer output at batch 1, f32, unplanned)`,
  ];
  return out.join("\n") + "\n";
}
