// Batch norm after a conv or dense layer folds into that layer's weights. With
//   s = gamma / sqrt(var + eps)   (per output channel)
// the layer's output y = w*x + b becomes s*(y - mean) + beta = (s*w)*x + (s*(b - mean) + beta):
//   w' = w * s   (each output channel's slice),   b' = (b - mean) * s + beta.
// It folds only where that is exact: the layer applies no activation or residual of its own yet,
// and nothing else reads its output.
//
// A batch norm whose only reader is a conv or dense layer folds forward into it, x' = s*x + t
// with t = beta - mean * s (per input channel c):
//   w'[o, c, ...] = w[o, c, ...] * s[c],   b'[o] = b[o] + sum over c, ky, kx of w[o, c, ky, kx] * t[c].
// That is exact unless the conv pads with zeros (a padded zero is not shifted by t; replicate
// and reflect padding copy normalised pixels, so they stay exact). Any other batch norm stays
// a scale-shift kernel.
//
// A `scale` node (x * weight + bias per channel: an imported Add/Mul by a constant) folds the
// same way, with s = weight and t = bias.
import type { Graph, Node, WeightDecl } from "../ir/graph.js";

type Affine = Extract<Node, { op: "batchnorm" | "scale" }>;

/** Channel c of a batch norm or scale: its factor s, b -> s*b + t on a bias, and t. */
function affine(
  node: Affine,
  constants: ReadonlyMap<string, Float32Array>,
): { s(c: number): number; onBias(c: number, b: number): number; t(c: number): number } {
  if (node.op === "scale") {
    const [w, b] = node.weights.map((n) => constants.get(n)!) as [Float32Array, Float32Array];
    return { s: (c) => w[c]!, onBias: (c, v) => v * w[c]! + b[c]!, t: (c) => b[c]! };
  }
  const [gamma, beta, mean, variance] = node.weights.map((n) => constants.get(n)!) as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const s = (c: number) => gamma[c]! / Math.sqrt(variance[c]! + node.attrs.eps);
  return {
    s,
    onBias: (c, v) => (v - mean[c]!) * s(c) + beta[c]!,
    t: (c) => beta[c]! - mean[c]! * s(c),
  };
}
import { producers, useCounts, withNodes, type Pass } from "./pass.js";

export const foldBatchNorm: Pass = {
  name: "fold-batchnorm",
  summary: "fold batch norm into the conv or dense layer next to it, where exact",
  run(graph, ctx) {
    const bns = graph.nodes.filter((n): n is Affine => n.op === "batchnorm" || n.op === "scale");
    if (bns.length === 0) return graph;
    const uses = useCounts(graph);
    const made = producers(graph);
    const replace = new Map<string, Node>(); // producer name -> folded producer
    const renamed = new Map<string, string>();
    const weights = new Map(graph.weights.map((w) => [w.name, w]));
    const constants = graph.constants ? new Map(graph.constants) : undefined;
    for (const bn of bns) {
      const p = made.get(bn.inputs[0]!);
      const foldable =
        p !== undefined &&
        (p.op === "conv2d" || p.op === "dense") &&
        p.attrs.act === "none" &&
        p.inputs.length === 1 &&
        uses.get(p.name) === 1 &&
        !replace.has(p.name);
      if (!foldable || (p.op !== "conv2d" && p.op !== "dense")) continue;
      const [w, b] = p.weights as [string, string | undefined];
      const bias = b ?? `${p.name}.bias`;
      const channels = p.shape[0]!;
      if (!b) weights.set(bias, { name: bias, shape: [channels] });
      if (constants) {
        const f = affine(bn, constants);
        const wData = Float32Array.from(constants.get(w)!);
        const bData = b ? Float32Array.from(constants.get(b)!) : new Float32Array(channels);
        const per = wData.length / channels;
        for (let c = 0; c < channels; c++) {
          const s = f.s(c);
          for (let i = 0; i < per; i++) wData[c * per + i]! *= s;
          bData[c] = f.onBias(c, bData[c]!);
        }
        constants.set(w, wData);
        constants.set(bias, bData);
      }
      replace.set(p.name, { ...p, weights: [w, bias], attrs: { ...p.attrs, bias: true } } as Node);
      renamed.set(bn.name, p.name);
    }
    // Forward: a batch norm read only by a conv or dense layer, where exact.
    const readers = new Map<string, Node>();
    for (const n of graph.nodes) for (const v of n.inputs) readers.set(v, n);
    const dropped = new Set<string>();
    for (const bn of bns) {
      if (renamed.has(bn.name) || uses.get(bn.name) !== 1) continue;
      const r = readers.get(bn.name);
      if (!r || (r.op !== "conv2d" && r.op !== "dense")) continue;
      if (r.inputs[0] !== bn.name || r.inputs[1] === bn.name || replace.has(r.name)) continue;
      if (r.op === "conv2d" && r.attrs.padmode === "zeros" && r.attrs.p.some((v) => v > 0))
        continue;
      const [w, b] = r.weights as [string, string | undefined];
      const bias = b ?? `${r.name}.bias`;
      const outs = r.shape[0]!;
      if (!b) weights.set(bias, { name: bias, shape: [outs] });
      if (constants) {
        const f = affine(bn, constants);
        const wData = Float32Array.from(constants.get(w)!);
        const bData = b ? Float32Array.from(constants.get(b)!) : new Float32Array(outs);
        const groups = r.op === "conv2d" ? r.attrs.g : 1;
        const perGroup = bn.shape[0]! / groups; // the input channels each output reads
        const taps = wData.length / outs / perGroup; // kh * kw (1 for dense)
        for (let o = 0; o < outs; o++) {
          const group = Math.floor(o / (outs / groups));
          let shift = 0;
          for (let ci = 0; ci < perGroup; ci++) {
            const c = group * perGroup + ci;
            const s = f.s(c);
            const t = f.t(c);
            for (let k = 0; k < taps; k++) {
              const at = (o * perGroup + ci) * taps + k;
              shift += wData[at]! * t;
              wData[at]! *= s;
            }
          }
          bData[o] = bData[o]! + shift;
        }
        constants.set(w, wData);
        constants.set(bias, bData);
      }
      const inputs = [bn.inputs[0]!, ...r.inputs.slice(1)];
      replace.set(r.name, {
        ...r,
        inputs,
        weights: [w, bias],
        attrs: { ...r.attrs, bias: true },
      } as Node);
      dropped.add(bn.name);
    }
    const folded = renamed.size + dropped.size;
    ctx.report(
      `folded ${folded} batch norm${folded === 1 ? "" : "s"}, kept ${bns.length - folded}`,
    );
    if (folded === 0) return graph;
    const nodes = graph.nodes
      .filter((n) => !renamed.has(n.name) && !dropped.has(n.name))
      .map((n) => replace.get(n.name) ?? n);
    const liveWeights = new Set(nodes.flatMap((n) => n.weights));
    const decls: WeightDecl[] = [...weights.values()].filter((d) => liveWeights.has(d.name));
    const out: Graph = { ...withNodes(graph, nodes, renamed), weights: decls };
    if (!constants) return out;
    for (const name of [...constants.keys()]) if (!liveWeights.has(name)) constants.delete(name);
    return { ...out, constants };
  },
};
