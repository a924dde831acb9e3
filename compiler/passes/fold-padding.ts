// An explicit `pad` read only by a convolution becomes that convolution's own padding:
// zero padding adds to the conv's (zero) padding; replicate or reflect padding becomes the
// padding mode of a conv that had none. The conv then reads the unpadded tensor directly.
import type { Node } from "../ir/graph.js";
import type { Quad } from "../ops/index.js";
import { producers, useCounts, withNodes, type Pass } from "./pass.js";

export const foldPadding: Pass = {
  name: "fold-padding",
  summary: "fold an explicit pad into the convolution that reads it",
  run(graph, ctx) {
    const uses = useCounts(graph);
    const made = producers(graph);
    const folded = new Set<string>();
    const nodes: Node[] = graph.nodes.map((c) => {
      if (c.op !== "conv2d") return c;
      const p = made.get(c.inputs[0]!);
      if (p?.op !== "pad" || uses.get(p.name) !== 1 || c.attrs.padmode !== "zeros") return c;
      const sum = c.attrs.p.map((v, i) => v + p.attrs.p[i]!) as unknown as Quad;
      const zeroPad = p.attrs.mode === "zeros" && p.attrs.value === 0;
      const convUnpadded = c.attrs.p.every((v) => v === 0);
      if (!zeroPad && !(p.attrs.mode !== "zeros" && convUnpadded)) return c;
      folded.add(p.name);
      const padmode = zeroPad ? "zeros" : p.attrs.mode;
      return {
        ...c,
        inputs: [p.inputs[0]!, ...c.inputs.slice(1)],
        attrs: { ...c.attrs, p: sum, padmode },
      };
    });
    if (folded.size === 0) return graph;
    ctx.report(`folded ${folded.size} pad${folded.size === 1 ? "" : "s"} into convolutions`);
    return withNodes(
      graph,
      nodes.filter((n) => !folded.has(n.name)),
    );
  },
};
