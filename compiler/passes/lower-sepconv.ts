// A separable convolution becomes the two convolutions it is: depthwise (one group per input
// channel, `mult` filters each) into `<name>.depthwise`, then a 1x1 pointwise conv that keeps
// the layer's name, so readers are unchanged. Weights keep their names.
import type { Node } from "../ir/graph.js";
import type { Pass } from "./pass.js";
import { valueShapes } from "../ir/graph.js";

export const lowerSepconv: Pass = {
  name: "lower-sepconv",
  summary: "rewrite sepconv as a depthwise conv and a 1x1 conv",
  run(graph, ctx) {
    if (!graph.nodes.some((n) => n.op === "sepconv2d")) return graph;
    const shapes = valueShapes(graph);
    const nodes: Node[] = [];
    let count = 0;
    for (const n of graph.nodes) {
      if (n.op !== "sepconv2d") {
        nodes.push(n);
        continue;
      }
      count++;
      const a = n.attrs;
      const c = shapes.get(n.inputs[0]!)![0]!;
      const [dw, pw, bias] = n.weights;
      const mid = `${n.name}.depthwise`;
      const none = { act: "none", alpha: 0 } as const;
      nodes.push({
        name: mid,
        op: "conv2d",
        inputs: n.inputs,
        weights: [dw!],
        attrs: {
          filters: c * a.mult,
          k: a.k,
          s: a.s,
          p: a.p,
          d: a.d,
          g: c,
          padmode: a.padmode,
          bias: false,
          ...none,
        },
        shape: [c * a.mult, n.shape[1]!, n.shape[2]!],
        ...(n.loc ? { loc: n.loc } : {}),
      });
      nodes.push({
        name: n.name,
        op: "conv2d",
        inputs: [mid],
        weights: bias === undefined ? [pw!] : [pw!, bias],
        attrs: {
          filters: a.filters,
          k: [1, 1],
          s: [1, 1],
          p: [0, 0, 0, 0],
          d: [1, 1],
          g: 1,
          padmode: "zeros",
          bias: a.bias,
          ...none,
        },
        shape: n.shape,
        ...(n.loc ? { loc: n.loc } : {}),
      });
    }
    ctx.report(`lowered ${count} separable conv${count === 1 ? "" : "s"}`);
    return { ...graph, nodes };
  },
};
