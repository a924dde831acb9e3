// Activation memory at batch 1, f32: the naive sum (every tensor its own buffer, as now) and
// the peak of the live set (what a planner that reuses memory can reach at best): a value is
// live from the node that makes it to its last reader, or to the end for outputs. flatten and
// dropout share their input's buffer and extend its life instead of taking their own.
import { elementCount, type Graph } from "../ir/graph.js";

export interface MemoryFigures {
  readonly naiveBytes: number;
  readonly peakLiveBytes: number;
}

export function activationMemory(graph: Graph): MemoryFigures {
  const owner = new Map<string, string>(); // value -> buffer it lives in
  const bytes = new Map<string, number>();
  for (const i of graph.inputs) {
    owner.set(i.name, i.name);
    bytes.set(i.name, elementCount(i.shape) * 4);
  }
  for (const n of graph.nodes) {
    if (n.op === "flatten" || n.op === "dropout") owner.set(n.name, owner.get(n.inputs[0]!)!);
    else {
      owner.set(n.name, n.name);
      bytes.set(n.name, elementCount(n.shape) * 4);
    }
  }
  const last = new Map<string, number>();
  graph.nodes.forEach((n, step) => n.inputs.forEach((v) => last.set(owner.get(v)!, step)));
  for (const o of graph.outputs) last.set(owner.get(o.value)!, graph.nodes.length);
  const born = new Map<string, number>(graph.inputs.map((i) => [i.name, -1]));
  graph.nodes.forEach((n, step) => {
    if (owner.get(n.name) === n.name) born.set(n.name, step);
  });
  let peak = 0;
  for (let step = -1; step <= graph.nodes.length; step++) {
    let live = 0;
    for (const [buffer, b] of bytes) {
      if (born.get(buffer)! <= step && step <= (last.get(buffer) ?? born.get(buffer)!)) live += b;
    }
    peak = Math.max(peak, live);
  }
  const naive = [...bytes.values()].reduce((a, b) => a + b, 0);
  return { naiveBytes: naive, peakLiveBytes: peak };
}
