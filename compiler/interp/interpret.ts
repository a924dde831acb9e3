// The reference interpreter: runs an IR graph on the CPU, one op at a time, in float64. It is
// the oracle of the GPU parity tests and what `cnnc run --cpu` uses. Each op's semantics is its
// registry entry's `reference` (compiler/ops/). Slow on purpose: clear.
import { elementCount, valueShapes, type Graph } from "../ir/graph.js";
import { applyActivation, nodeActivation, opDef, type Tensor } from "../ops/index.js";
import { CompileError } from "../errors.js";

export type Weights = ReadonlyMap<string, Float32Array>;

export class InputError extends CompileError {}

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
    const def = opDef(node.op);
    const out = def.reference(node, args, { batch, inputShapes, weights: w });
    // A fused post-activation (conv2d and dense apply their epilogue themselves).
    if (def.traits.fusedActivation === "post") {
      const { act, alpha } = nodeActivation(node);
      if (act !== "none")
        for (let i = 0; i < out.length; i++) out[i] = applyActivation(act, out[i]!, alpha);
    }
    values.set(node.name, out);
  }
  return new Map(graph.outputs.map((o) => [o.name, values.get(o.value)!]));
}
