// `cnnc tune`: measures each distinct GEMM layer (ungrouped zero-padded convs, dense layers)
// of a network under every candidate tile configuration on this machine's adapter, keeps the
// fastest per layer, and writes a bundle built with those tiles (the manifest records the
// choices and the adapter). Layers of one shape are measured once. Tiles that suit a GPU (many
// threads, small register blocks) and tiles that suit a CPU emulation of one (few threads,
// large blocks) differ by 3x either way: measuring is the only honest way to choose.
import { performance } from "node:perf_hooks";
import {
  defaultTiles,
  planGraph,
  tileCandidates,
  tilesName,
  type GemmTiles,
} from "../compiler/codegen/index.js";
import { writeBundle } from "../compiler/bundle/index.js";
import { printIr, valueShapes, type Graph, type Node } from "../compiler/ir/index.js";
import { Model } from "../runtime/index.js";

type Constants = ReadonlyMap<string, Float32Array>;

/** The layers whose kernel is the tiled GEMM. */
function gemmLayers(graph: Graph): Node[] {
  return graph.nodes.filter(
    (n) =>
      (n.op === "conv2d" && n.attrs.g === 1 && n.attrs.padmode === "zeros") || n.op === "dense",
  );
}

/** The node alone, as a network: its inputs become graph inputs. */
function alone(graph: Graph, node: Node): Graph {
  const shapes = valueShapes(graph);
  const inputs = [...new Set(node.inputs)].map((v) => ({ name: v, shape: shapes.get(v)! }));
  const used = new Set(node.weights);
  return {
    name: `${graph.name}.${node.name}`,
    inputs,
    weights: graph.weights.filter((w) => used.has(w.name)),
    nodes: [node],
    outputs: [{ name: "y", value: node.name }],
  };
}

/** Median time of `runs` runs after a warm-up, and the warm-up's output. */
async function measure(
  model: Model,
  graph: Graph,
  runs: number,
): Promise<{ ms: number; out: Float32Array }> {
  const inputs = Object.fromEntries(
    graph.inputs.map((i) => [
      i.name,
      Float32Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, (_, k) => Math.sin(k)),
    ]),
  );
  const out = (await model.run(inputs)).y!;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await model.run(inputs);
    times.push(performance.now() - t0);
  }
  return { ms: times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!, out };
}

/** Largest difference relative to the reference's largest magnitude. */
function relativeError(ref: Float32Array, got: Float32Array): number {
  let scale = 1e-12;
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]!));
    worst = Math.max(worst, Math.abs(ref[i]! - got[i]!));
  }
  return worst / scale;
}

export interface TunedLayer {
  readonly layers: readonly string[];
  readonly shape: string;
  readonly defaultMs: number;
  readonly best: GemmTiles;
  readonly bestMs: number;
  /** Candidates whose output differed from the default kernel's (not used). */
  readonly rejected: readonly string[];
}

/** Measures every candidate for every distinct GEMM layer; returns the winners. */
export async function tuneGraph(
  graph: Graph & { readonly constants: Constants },
  device: GPUDevice,
  options: { readonly runs?: number; readonly candidates?: readonly GemmTiles[] } = {},
): Promise<{ tiles: Map<string, GemmTiles>; report: TunedLayer[] }> {
  const shapes = valueShapes(graph);
  const groups = new Map<string, Node[]>();
  for (const n of gemmLayers(graph)) {
    const key = JSON.stringify([n.op, n.inputs.map((v) => shapes.get(v)), n.attrs, n.shape]);
    groups.set(key, [...(groups.get(key) ?? []), n]);
  }
  const tiles = new Map<string, GemmTiles>();
  const report: TunedLayer[] = [];
  for (const nodes of groups.values()) {
    const single = alone(graph, nodes[0]!);
    const timings: [GemmTiles, number][] = [];
    const rejected: string[] = [];
    let reference: Float32Array | undefined;
    const candidates = options.candidates ?? tileCandidates;
    // The default first: its output is what every other candidate must reproduce.
    for (const candidate of [defaultTiles, ...candidates.filter((c) => c !== defaultTiles)]) {
      const plan = planGraph(single, {
        planMemory: true,
        tiles: new Map([[nodes[0]!.name, candidate]]),
      });
      const model = await Model.create(writeBundle(plan, graph.constants), device);
      try {
        const { ms, out } = await measure(model, single, options.runs ?? 3);
        reference ??= out;
        // A driver may miscompile a configuration (seen on emulated adapters): never keep one
        // whose result differs from the default kernel's.
        if (relativeError(reference, out) > 1e-4) rejected.push(tilesName(candidate));
        else timings.push([candidate, ms]);
      } finally {
        model.dispose();
      }
    }
    const [best, bestMs] = timings.reduce((a, b) => (b[1] < a[1] ? b : a));
    const defaultMs = timings.find(([t]) => t === defaultTiles)?.[1] ?? bestMs;
    for (const n of nodes) tiles.set(n.name, best);
    const n = nodes[0]!;
    report.push({
      layers: nodes.map((x) => x.name),
      shape: `${n.op} ${n.inputs.map((v) => `[${shapes.get(v)!.join(",")}]`).join(" ")} -> [${n.shape.join(",")}]`,
      defaultMs,
      best,
      bestMs,
      rejected,
    });
  }
  return { tiles, report };
}

/** The bundle of a tuned graph: the winners' kernels, the choices in the manifest. */
export function tunedBundle(
  graph: Graph & { readonly constants: Constants },
  tiles: ReadonlyMap<string, GemmTiles>,
  adapter: string,
  options: { readonly planMemory?: boolean; readonly eliminateConcat?: boolean } = {},
): Uint8Array {
  const plan = planGraph(graph, {
    planMemory: options.planMemory ?? true,
    eliminateConcat: options.eliminateConcat ?? true,
    tiles,
  });
  const layers = Object.fromEntries([...tiles].map(([name, t]) => [name, tilesName(t)]));
  return writeBundle(plan, graph.constants, printIr(graph), { adapter, layers });
}
