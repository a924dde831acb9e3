// A pass is a named pure function Graph -> Graph. It returns the same graph object when it
// changes nothing. Passes never call each other: the order lives in pipeline.ts alone.
import type { Graph, Node } from "../ir/graph.js";

export interface PassContext {
  /** A line for the user about what the pass did (`folded 20 batch norms, kept 1`). */
  report(line: string): void;
}

export interface Pass {
  readonly name: string;
  readonly summary: string;
  run(graph: Graph, ctx: PassContext): Graph;
}

/** How many nodes read each value (outputs count as readers too). */
export function useCounts(graph: Graph): Map<string, number> {
  const uses = new Map<string, number>();
  const add = (v: string): void => {
    uses.set(v, (uses.get(v) ?? 0) + 1);
  };
  for (const n of graph.nodes) n.inputs.forEach(add);
  for (const o of graph.outputs) add(o.value);
  return uses;
}

/** The graph with node list replaced and every use of a renamed value redirected. */
export function withNodes(
  graph: Graph,
  nodes: readonly Node[],
  renamed: ReadonlyMap<string, string> = new Map(),
): Graph {
  const follow = (v: string): string => {
    let r = v;
    for (let seen = 0; renamed.has(r) && seen < 1000; seen++) r = renamed.get(r)!;
    return r;
  };
  return {
    ...graph,
    nodes: nodes.map((n) =>
      n.inputs.some((v) => renamed.has(v)) ? ({ ...n, inputs: n.inputs.map(follow) } as Node) : n,
    ),
    outputs: graph.outputs.map((o) =>
      renamed.has(o.value) ? { ...o, value: follow(o.value) } : o,
    ),
  };
}

/** Producer of each value. */
export function producers(graph: Graph): Map<string, Node> {
  return new Map(graph.nodes.map((n) => [n.name, n]));
}
