// Legalisation: every op that is not core (its registry `emit` is a lowering) is rewritten into
// core ops. It runs at every -O level (passes/legalize.ts is its pass), and the backends that
// take a graph from outside (codegen, the ONNX exporter) run it again, a no-op then, so that no
// backend ever sees a sepconv or a dropout whatever its caller did.
import { valueShapes, type Graph, type Node } from "../ir/graph.js";
import { opDef, type OpKind } from "./index.js";

export interface Legalized {
  readonly graph: Graph;
  /** How many nodes of each op were lowered. */
  readonly lowered: ReadonlyMap<OpKind, number>;
}

/** `keep`: ops left as they are (training keeps dropout, which is no identity there). */
export function legalize(graph: Graph, keep: ReadonlySet<OpKind> = new Set()): Legalized {
  const lowered = new Map<OpKind, number>();
  const lowers = (op: OpKind) => typeof opDef(op).emit === "object" && !keep.has(op);
  if (!graph.nodes.some((n) => lowers(n.op))) return { graph, lowered };
  const shapes = valueShapes(graph);
  const renamed = new Map<string, string>();
  const follow = (v: string): string => {
    let r = v;
    while (renamed.has(r)) r = renamed.get(r)!;
    return r;
  };
  const nodes: Node[] = [];
  for (const original of graph.nodes) {
    const n = original.inputs.some((v) => renamed.has(v))
      ? ({ ...original, inputs: original.inputs.map(follow) } as Node)
      : original;
    const emit = opDef(n.op).emit;
    if (typeof emit !== "object" || !lowers(n.op)) {
      nodes.push(n);
      continue;
    }
    lowered.set(n.op, (lowered.get(n.op) ?? 0) + 1);
    const result = emit.legalize(
      n,
      n.inputs.map((v) => shapes.get(v)!),
    );
    if ("alias" in result) renamed.set(n.name, (result as { alias: string }).alias);
    else nodes.push(...(result as readonly Node[]));
  }
  const outputs = graph.outputs.map((o) =>
    renamed.has(o.value) ? { ...o, value: follow(o.value) } : o,
  );
  return { graph: { ...graph, nodes, outputs }, lowered };
}
