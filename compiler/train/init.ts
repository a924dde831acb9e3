// Initial weights for training, by layer type: a conv or dense weight that feeds a rectifier
// (relu and its kin) draws from He's normal (std sqrt(2 / fan_in), He et al. 2015); one that
// feeds a saturating activation (tanh, sigmoid) or none (the classifier) from Glorot's uniform
// (limit sqrt(6 / (fan_in + fan_out)), Glorot and Bengio 2010). Biases and shifts start at 0,
// scales at 1, batch norm's statistics at mean 0 and variance 1, PReLU's slopes at 0.25.
import { elementCount, valueShapes, type Graph, type Node } from "../ir/graph.js";
import { nodeActivation, opDef, type EpilogueAct } from "../ops/index.js";
import { random } from "../weights/init.js";

export type InitKind = "he" | "glorot";

const rectifiers = new Set<EpilogueAct>([
  "relu",
  "relu6",
  "leaky_relu",
  "elu",
  "selu",
  "gelu",
  "gelu_tanh",
  "silu",
  "hardswish",
  "mish",
  "softplus",
]);

/** The activation a node's output meets first, through norms, pools, dropout and views. */
function nextActivation(node: Node, readers: ReadonlyMap<string, readonly Node[]>): string {
  const fused = nodeActivation(node).act;
  if (fused !== "none") return fused;
  let at = node;
  for (let hops = 0; hops < 8; hops++) {
    const next = readers.get(at.name);
    if (!next || next.length !== 1) return "none";
    const n = next[0]!;
    if (n.op === "prelu") return "relu";
    if (opDef(n.op).traits.family === "activation") return n.op;
    const { act } = nodeActivation(n);
    if (act !== "none") return act;
    const passes = ["norm", "pool", "shape"].includes(opDef(n.op).traits.family);
    if (!passes) return "none";
    at = n;
  }
  return "none";
}

/** He or Glorot for a node's weight, by the activation its output meets. */
export function initKind(node: Node, readers: ReadonlyMap<string, readonly Node[]>): InitKind {
  return rectifiers.has(nextActivation(node, readers) as EpilogueAct) ? "he" : "glorot";
}

export function trainingInit(graph: Graph, seed = 0): Map<string, Float32Array> {
  const rand = random(seed);
  const normal = () =>
    Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
  const shapes = valueShapes(graph);
  const readers = new Map<string, Node[]>();
  for (const n of graph.nodes)
    for (const v of n.inputs) readers.set(v, [...(readers.get(v) ?? []), n]);
  const out = new Map<string, Float32Array>();
  for (const node of graph.nodes) {
    const specs = opDef(node.op).weights(
      node.attrs,
      node.inputs.map((v) => shapes.get(v)!),
    );
    specs.forEach((spec, i) => {
      const data = new Float32Array(elementCount(spec.shape));
      const role = spec.role;
      if (
        role === "weight" &&
        (node.op === "conv2d" || node.op === "deconv2d" || node.op === "dense")
      ) {
        const fanIn = spec.fanIn ?? elementCount(spec.shape.slice(1));
        // PyTorch's fan-out: the first dimension times the window
        const fanOut = spec.shape[0]! * elementCount(spec.shape.slice(2));
        if (initKind(node, readers) === "he") {
          const std = Math.sqrt(2 / fanIn);
          for (let j = 0; j < data.length; j++) data[j] = normal() * std;
        } else {
          const limit = Math.sqrt(6 / (fanIn + fanOut));
          for (let j = 0; j < data.length; j++) data[j] = (2 * rand() - 1) * limit;
        }
      } else if (node.op === "prelu") data.fill(0.25);
      else if (role === "gamma" || role === "var" || role === "weight") data.fill(1);
      // bias, beta, mean, and any shift: 0
      out.set(node.weights[i]!, data);
    });
  }
  return out;
}
