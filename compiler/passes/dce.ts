// Dead code elimination: nodes no output depends on, and weights no node uses, go.
import type { Graph } from "../ir/graph.js";
import type { Pass } from "./pass.js";

export const deadCode: Pass = {
  name: "dce",
  summary: "remove layers no output depends on, and unused weights",
  run(graph, ctx) {
    const live = new Set(graph.outputs.map((o) => o.value));
    for (let i = graph.nodes.length - 1; i >= 0; i--) {
      const n = graph.nodes[i]!;
      if (live.has(n.name)) n.inputs.forEach((v) => live.add(v));
    }
    const nodes = graph.nodes.filter((n) => live.has(n.name));
    const used = new Set(nodes.flatMap((n) => n.weights));
    const weights = graph.weights.filter((w) => used.has(w.name));
    if (nodes.length === graph.nodes.length && weights.length === graph.weights.length)
      return graph;
    const removed = graph.nodes.length - nodes.length;
    if (removed) ctx.report(`removed ${removed} dead layer${removed === 1 ? "" : "s"}`);
    const out: Graph = { ...graph, nodes, weights };
    if (graph.constants) {
      return {
        ...out,
        constants: new Map([...graph.constants].filter(([name]) => used.has(name))),
      };
    }
    return out;
  },
};
