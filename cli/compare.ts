// `cnnc summary --optimized`: what the passes changed, as a small before/after table.
import { activationMemory, bytes, grouped, summarize } from "../compiler/analysis/index.js";
import { planGraph } from "../compiler/codegen/index.js";
import type { Graph } from "../compiler/ir/index.js";

interface Figures {
  readonly layers: number;
  /** Activation bytes at batch 1 as the bundle lays them out. */
  readonly arenaBytes: number;
  readonly dispatches: number;
  readonly macs: number;
  readonly naiveBytes: number;
  readonly peakLiveBytes: number;
}

function figures(graph: Graph, planned: boolean): Figures {
  const memory = activationMemory(graph);
  const plan = planGraph(graph, { planMemory: planned, eliminateConcat: planned });
  return {
    layers: graph.nodes.length,
    arenaBytes: plan.arena * 4,
    dispatches: plan.dispatches.length,
    macs: summarize(graph).totals.macs,
    ...memory,
  };
}

export function compareOptimized(
  before: Graph,
  after: Graph,
  label: string,
): { text: string; json: unknown } {
  const a = figures(before, false);
  const b = figures(after, true);
  const rows: [string, string, string][] = [
    ["", "-O0", label],
    ["layers", grouped(a.layers), grouped(b.layers)],
    ["dispatches", grouped(a.dispatches), grouped(b.dispatches)],
    ["MACs", grouped(a.macs), grouped(b.macs)],
    ["activations, sum of all tensors", bytes(a.naiveBytes), bytes(b.naiveBytes)],
    ["activations, peak live", bytes(a.peakLiveBytes), bytes(b.peakLiveBytes)],
    ["activations, bundle arena", bytes(a.arenaBytes), bytes(b.arenaBytes)],
  ];
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const text =
    rows
      .map((r) =>
        `${r[0].padEnd(w[0]!)}  ${r[1].padStart(w[1]!)}  ${r[2].padStart(w[2]!)}`.trimEnd(),
      )
      .join("\n") + "\n";
  return { text, json: { before: a, after: b } };
}
