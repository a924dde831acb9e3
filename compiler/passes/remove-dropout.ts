// Dropout is the identity at inference: its readers read its input instead.
import type { Node } from "../ir/graph.js";
import { withNodes, type Pass } from "./pass.js";

export const removeDropout: Pass = {
  name: "remove-dropout",
  summary: "drop dropout layers (the identity at inference)",
  run(graph, ctx) {
    const renamed = new Map<string, string>();
    const kept: Node[] = [];
    for (const n of graph.nodes) {
      if (n.op === "dropout") renamed.set(n.name, n.inputs[0]!);
      else kept.push(n);
    }
    if (renamed.size === 0) return graph;
    ctx.report(`removed ${renamed.size} dropout layer${renamed.size === 1 ? "" : "s"}`);
    return withNodes(graph, kept, renamed);
  },
};
