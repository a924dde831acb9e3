// The reference interpreter: runs an IR graph on the CPU, one op at a time, in float64. It is
// the oracle of the GPU parity tests and what `cnnc run --cpu` uses. Slow on purpose: clear.
import { elementCount, valueShapes, type Graph } from "../ir/graph.js";
import { nodeActivation, postActOps } from "../ir/ops.js";
import { activations, opImpls, type Tensor } from "./ops.js";

export type Weights = ReadonlyMap<string, Float32Array>;

export class InputError extends Error {}

export function interpret(
  graph: Graph,
  weights: Weights,
  inputs: Readonly<Record<string, ArrayLike<number>>>,
  batch: number,
): Map<string, Tensor> {
  const shapes = valueShapes(graph);
  const values = new Map<string, Tensor>();
  for (const input of graph.inputs) {
    const data = inputs[input.name];
    const expected = batch * elementCount(input.shape);
    if (!data) throw new InputError(`missing input '${input.name}'`);
    if (data.length !== expected) {
      throw new InputError(
        `input '${input.name}': expected ${expected} values ([${[batch, ...input.shape].join(", ")}]), got ${data.length}`,
      );
    }
    values.set(input.name, Float64Array.from(data));
  }
  for (const node of graph.nodes) {
    const args = node.inputs.map((v) => values.get(v)!);
    const w = node.weights.map((name) => {
      const data = weights.get(name);
      if (!data) throw new Error(`internal: weight '${name}' not loaded`);
      return data;
    });
    const inputShapes = node.inputs.map((v) => shapes.get(v)!);
    const out = opImpls[node.op](node, args, { batch, inputShapes, weights: w });
    if (postActOps.has(node.op)) {
      const { act, alpha } = nodeActivation(node);
      if (act !== "none")
        for (let i = 0; i < out.length; i++) out[i] = activations[act](out[i]!, alpha);
    }
    values.set(node.name, out);
  }
  return new Map(graph.outputs.map((o) => [o.name, values.get(o.value)!]));
}
