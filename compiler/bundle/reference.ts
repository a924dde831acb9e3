// A bundle on the CPU reference: its IR (the network as the kernels compute it, after the
// passes) and its stored tensors, which are the IR's weights; every weight a kernel binds is
// one of them or derived from one (runtime/weights.ts). `cnnc run --cpu` on a bundle runs this.
import { parseIr, type Graph } from "../ir/index.js";
import { CompileError } from "../errors.js";
import { isDerived, type ParsedBundle } from "../../runtime/format.js";
import { weightData } from "../../runtime/weights.js";

export function bundleReference(
  bundle: ParsedBundle,
  file = "the bundle",
): { graph: Graph; weights: Map<string, Float32Array> } {
  const { manifest, blob } = bundle;
  if (!manifest.ir)
    throw new CompileError(`${file} carries no IR, so it cannot run on the CPU reference`);
  const graph = parseIr(manifest.ir);
  const stored = new Set(manifest.weights.filter((w) => !isDerived(w)).map((w) => w.name));
  const data = weightData(manifest, blob, (name) => stored.has(name));
  const weights = new Map<string, Float32Array>();
  for (const w of graph.weights) {
    const tensor = data.get(w.name);
    if (!tensor) throw new CompileError(`${file} does not store the IR's weight '${w.name}'`);
    weights.set(w.name, tensor);
  }
  return { graph, weights };
}
