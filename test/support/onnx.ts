// Running an exported model in ONNX Runtime (onnxruntime-node, CPU): the external oracle.
import ort from "onnxruntime-node";
import type { Graph } from "../../compiler/ir/index.js";

export async function runOnnx(
  bytes: Uint8Array,
  graph: Graph,
  inputs: Record<string, Float32Array>,
  batch: number,
): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes);
  const feeds = Object.fromEntries(
    graph.inputs.map((i) => [
      i.name,
      new ort.Tensor("float32", inputs[i.name]!, [batch, ...i.shape]),
    ]),
  );
  const out = await session.run(feeds);
  return Object.fromEntries(graph.outputs.map((o) => [o.name, out[o.name]!.data as Float32Array]));
}
