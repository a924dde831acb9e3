// A bundle on the CPU reference: its IR (the network as the kernels compute it, after the
// passes) and its stored tensors, which are the IR's weights; every weight a kernel binds is
// one of them or derived from one (runtime/weights.ts). `cnnc run --cpu` on a bundle runs this.
import { parseIr, verify, type Graph } from "../ir/index.js";
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
  let graph: Graph;
  try {
    graph = verify(parseIr(manifest.ir));
  } catch (e) {
    throw new CompileError(`${file}: its IR is not well-formed (${(e as Error).message})`);
  }
  // The IR must be the network the manifest describes: same inputs and outputs, same shapes.
  const same = (a: readonly number[], b: readonly number[]) =>
    a.length === b.length && a.every((d, i) => d === b[i]);
  const irShapes = new Map([
    ...graph.inputs.map((i) => [i.name, i.shape] as const),
    ...graph.nodes.map((n) => [n.name, n.shape] as const),
  ]);
  const inputsAgree =
    graph.inputs.length === manifest.inputs.length &&
    manifest.inputs.every((i) =>
      graph.inputs.some((g) => g.name === i.name && same(g.shape, i.shape)),
    );
  const outputsAgree =
    graph.outputs.length === manifest.outputs.length &&
    manifest.outputs.every((o) =>
      graph.outputs.some(
        (g) =>
          g.name === o.name &&
          g.value === o.value &&
          same(g.declared ?? irShapes.get(g.value) ?? [], o.shape),
      ),
    );
  if (!inputsAgree || !outputsAgree)
    throw new CompileError(
      `${file}: its IR's inputs and outputs are not the ones its manifest lists`,
    );
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
