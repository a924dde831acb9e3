// Deterministic weights for networks trained nowhere yet: benchmarks, parity tests, demos.
// He (Kaiming) normal initialisation for conv and dense weights, std = sqrt(2 / fan_in); small
// biases; batch-norm statistics that are not the identity, so that BN really computes.
import { elementCount, type Graph } from "../ir/graph.js";
import { opDef } from "../ops/index.js";
import { valueShapes } from "../ir/graph.js";

/** splitmix32: a small, well-distributed seeded generator. */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/**
 * Inputs for a network at `batch`, uniform in [-2, 2) from `seed`: what tests and benchmarks
 * feed two runtimes or two bundles to compare.
 */
export function randomInputs(
  graph: {
    readonly inputs: readonly { readonly name: string; readonly shape: readonly number[] }[];
  },
  batch: number,
  seed: number,
): Record<string, Float32Array> {
  const rand = random(seed);
  return Object.fromEntries(
    graph.inputs.map((i) => [
      i.name,
      Float32Array.from(
        { length: batch * i.shape.reduce((a, b) => a * b, 1) },
        () => rand() * 4 - 2,
      ),
    ]),
  );
}

function normal(rand: () => number): number {
  // Box-Muller
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

export function initWeights(
  graph: Graph,
  seed = 0,
  /** Hears of each layer done (done of total layers). */
  onLayer?: (done: number, total: number) => void,
): Map<string, Float32Array> {
  const rand = random(seed);
  const shapes = valueShapes(graph);
  const out = new Map<string, Float32Array>();
  let layers = 0;
  for (const node of graph.nodes) {
    onLayer?.(layers++, graph.nodes.length);
    const inputs = node.inputs.map((v) => shapes.get(v)!);
    opDef(node.op)
      .weights(node.attrs, inputs)
      .forEach((spec, i) => {
        const name = node.weights[i]!;
        const data = new Float32Array(elementCount(spec.shape));
        const fanIn = elementCount(spec.shape.slice(1));
        for (let j = 0; j < data.length; j++) {
          if (spec.init) {
            data[j] = spec.init(rand);
            continue;
          }
          switch (spec.role) {
            case "gamma":
            case "var":
              data[j] = 0.5 + rand();
              break;
            case "beta":
            case "mean":
            case "bias":
              data[j] = 0.1 * normal(rand);
              break;
            default:
              data[j] = normal(rand) * Math.sqrt(2 / Math.max(spec.fanIn ?? fanIn, 1));
          }
        }
        out.set(name, data);
      });
  }
  return out;
}
