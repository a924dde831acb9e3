// Activation memory at batch 1, f32: the naive sum (every tensor its own buffer, as now) and
// the peak of the live set (what a planner that reuses memory can reach at best): a value is
// live from the node that makes it to its last reader, or to the end for outputs. flatten and
// dropout share their input's buffer and extend its life instead of taking their own, and so
// does an elementwise op that may work in place (inPlaceOperands, the rule codegen follows).
import { elementCount, type Graph, type Node } from "../ir/graph.js";
import { opDef, opsWith } from "../ops/index.js";

/** Batch norm, add, mul, PReLU and every activation (the `inPlace` trait). */
const inPlaceOps = opsWith((t) => t.inPlace);

/**
 * The elementwise nodes that may write their result over an operand, each with that operand:
 * activations, batch norm, and add/mul through an operand of the output's full shape, when the
 * node is the operand's only reader and the operand is not a graph input or output, nor an
 * alias (flatten, dropout), nor in `exclude` (values codegen writes into another buffer, e.g.
 * a concat's slice). Chains are fine: bn -> relu may both work in the conv's buffer.
 */
export function inPlaceOperands(
  graph: Graph,
  exclude: ReadonlySet<string> = new Set(),
): Map<string, string> {
  const readers = new Map<string, string[]>();
  const read = (v: string, by: string): void => {
    readers.set(v, [...(readers.get(v) ?? []), by]);
  };
  for (const n of graph.nodes) for (const v of n.inputs) read(v, n.name);
  for (const o of graph.outputs) read(o.value, "");
  const made = new Map<string, Node>(graph.nodes.map((n) => [n.name, n]));
  const result = new Map<string, string>();
  for (const n of graph.nodes) {
    if (!inPlaceOps.has(n.op)) continue;
    const operand = n.inputs.find((v) => {
      const p = made.get(v);
      const r = readers.get(v) ?? [];
      return (
        p !== undefined &&
        r.length === 1 &&
        r[0] === n.name &&
        !exclude.has(v) &&
        !opDef(p.op).traits.alias &&
        p.shape.length === n.shape.length &&
        p.shape.every((d, i) => d === n.shape[i])
      );
    });
    if (operand !== undefined) result.set(n.name, operand);
  }
  return result;
}

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
  const inPlace = inPlaceOperands(graph);
  for (const n of graph.nodes) {
    const takes = opDef(n.op).traits.alias ? n.inputs[0] : inPlace.get(n.name);
    if (takes !== undefined) owner.set(n.name, owner.get(takes)!);
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
  // Naive: every tensor its own buffer (only flatten and dropout, which move no data, share).
  const naive = [...graph.inputs, ...graph.nodes.filter((n) => !opDef(n.op).traits.alias)].reduce(
    (sum, v) => sum + elementCount(v.shape) * 4,
    0,
  );
  return { naiveBytes: naive, peakLiveBytes: peak };
}
