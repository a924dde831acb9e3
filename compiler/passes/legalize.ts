// The legalisation pass: every non-core op lowered into core ops, each by its registry entry
// (ops/legalize.ts). First in every pipeline, -O0 included.
import { legalize as legalizeGraph } from "../ops/legalize.js";
import type { Pass } from "./pass.js";

export const legalize: Pass = {
  name: "legalize",
  summary: "lower every non-core op into core ops (sepconv -> depthwise + 1x1, dropout removed)",
  run(graph, ctx) {
    const { graph: out, lowered } = legalizeGraph(graph);
    if (lowered.size === 0) return graph;
    ctx.report(`lowered ${[...lowered].map(([op, n]) => `${n} ${op}`).join(", ")}`);
    return out;
  },
};
