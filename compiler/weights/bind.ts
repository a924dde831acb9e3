// Matching a weights file to a graph: every tensor the graph declares must be there with its
// shape; nothing extra may be. Errors name the tensor and both shapes.
import { formatShape, type Graph } from "../ir/graph.js";
import type { NamedTensor } from "./safetensors.js";
import { CompileError } from "../errors.js";

export class WeightsError extends CompileError {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
  }
}

export function bindWeights(
  graph: Graph,
  file: ReadonlyMap<string, NamedTensor>,
  source = "the weights file",
): Map<string, Float32Array> {
  const problems: string[] = [];
  const out = new Map<string, Float32Array>();
  for (const w of graph.weights) {
    const t = file.get(w.name);
    if (!t) {
      problems.push(`${source} lacks '${w.name}' (${formatShape(w.shape)})`);
      continue;
    }
    const same = t.shape.length === w.shape.length && t.shape.every((d, i) => d === w.shape[i]);
    if (!same) {
      problems.push(
        `'${w.name}' is ${formatShape(t.shape)} in ${source}, the network needs ${formatShape(w.shape)}`,
      );
      continue;
    }
    out.set(w.name, t.data);
  }
  const declared = new Set(graph.weights.map((w) => w.name));
  for (const name of file.keys()) {
    if (!declared.has(name))
      problems.push(`${source} has '${name}', which the network does not use`);
  }
  if (problems.length) throw new WeightsError(problems);
  return out;
}
