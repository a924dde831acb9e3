// Multiply-accumulates per node, counted as the papers count them: convolutions (all kinds)
// and dense layers only; pooling, normalisation and activations are 0. The table is keyed by
// every op, so a new op does not compile until its cost is stated here.
import { elementCount, type Node, type Shape } from "../ir/graph.js";
import type { OpKind } from "../ir/ops.js";

type MacRule = (node: Node, inputs: readonly Shape[]) => number;
const free: MacRule = () => 0;

const rules: Readonly<Record<OpKind, MacRule>> = {
  // C_out * H_out * W_out * (C_in / groups) * k_h * k_w
  conv2d(node, [x]) {
    if (node.op !== "conv2d") return 0;
    const [cOut = 0, h = 0, w = 0] = node.shape;
    const { k, g } = node.attrs;
    return cOut * h * w * ((x?.[0] ?? 0) / g) * k[0] * k[1];
  },
  // Every input pixel scatters into (C_out / groups) * k_h * k_w outputs.
  deconv2d(node, [x]) {
    if (node.op !== "deconv2d") return 0;
    const { k, g, filters } = node.attrs;
    return elementCount(x ?? []) * (filters / g) * k[0] * k[1];
  },
  // Depthwise (C_in * mult kernels of k_h * k_w) plus pointwise (C_in * mult -> filters).
  sepconv2d(node, [x]) {
    if (node.op !== "sepconv2d") return 0;
    const [, h = 0, w = 0] = node.shape;
    const { k, mult, filters } = node.attrs;
    const mid = (x?.[0] ?? 0) * mult;
    return mid * h * w * k[0] * k[1] + filters * h * w * mid;
  },
  dense(node, [x]) {
    return node.op === "dense" ? (x?.[0] ?? 0) * node.attrs.units : 0;
  },
  maxpool2d: free,
  avgpool2d: free,
  globalavgpool: free,
  globalmaxpool: free,
  batchnorm: free,
  flatten: free,
  dropout: free,
  upsample: free,
  pad: free,
  lrn: free,
  relu: free,
  relu6: free,
  leaky_relu: free,
  sigmoid: free,
  tanh: free,
  gelu: free,
  silu: free,
  hardswish: free,
  hardsigmoid: free,
  softmax: free,
  concat: free,
  add: free,
  mul: free,
};

export function macs(node: Node, inputs: readonly Shape[]): number {
  return rules[node.op](node, inputs);
}
