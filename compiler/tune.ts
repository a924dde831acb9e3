// The autotuner (`cnnc tune` is its command): measures each distinct layer with a choice of kernel (ungrouped zero-padded
// convs: the tiled GEMM under every tile configuration, and Winograd for 3x3 stride-1 ones;
// depthwise convs: outputs per thread; dense layers: the GEMM and the GEMV) on this machine's
// adapter, keeps the fastest per layer, and writes a bundle built with those kernels (the
// manifest records the choices and the adapter). Layers of one shape are measured once. Tiles
// that suit a GPU (many threads, small register blocks) and tiles that suit a CPU emulation of
// one (few threads, large blocks) differ by 3x either way, and whether Winograd's transforms
// pay depends on the adapter's memory: measuring is the only honest way to choose.
// Layouts: a conv whose input may be stored NHWC (compiler/codegen/layout.ts) is measured
// reading NCHW and reading NHWC; then each group of values that shares a layout takes the one
// that its conv readers' best kernels sum to less time in, and each reader keeps its best
// kernel for that layout. The compiler runs nothing itself: the caller hands it a loader that
// puts a bundle on the device being tuned for (the runtime's Model.create).

/** What the tuner needs of a loaded model; the runtime's Model is one. */
export interface Measurable {
  run(
    inputs: Readonly<Record<string, Float32Array>>,
    options: { readonly batch: number },
  ): Promise<Record<string, { readonly data: Float32Array }>>;
  /** GPU time of the inference alone, repeated `repeats` times in one submission, in ms. */
  measure(options: { readonly batch: number; readonly repeats?: number }): Promise<number>;
  dispose(): void;
}

/** Loads a bundle on the device being tuned for. */
export type Loader = (bundle: Uint8Array) => Promise<Measurable>;
import {
  candidates,
  choiceName,
  concatSlices,
  layoutGroups,
  readsLayout,
  tunable,
  type KernelChoice,
  type Layout,
} from "./codegen/index.js";
import { compileGraph } from "./compile.js";
import type { Target } from "./codegen/choice.js";
import { layerFeatures, type LayerFeatures } from "./codegen/cost-model.js";
import { valueShapes, type Graph, type Node } from "./ir/index.js";

type Constants = ReadonlyMap<string, Float32Array>;

/** The node alone, as a network: its inputs become graph inputs. */
function alone(graph: Graph, node: Node): Graph {
  const shapes = valueShapes(graph);
  const inputs = [...new Set(node.inputs)].map((v) => ({ name: v, shape: shapes.get(v)! }));
  const used = new Set(node.weights);
  const constants = graph.constants;
  return {
    name: `${graph.name}.${node.name}`,
    inputs,
    weights: graph.weights.filter((w) => used.has(w.name)),
    nodes: [node],
    outputs: [{ name: "y", value: node.name }],
    ...(constants ? { constants: new Map(node.weights.map((w) => [w, constants.get(w)!])) } : {}),
  };
}

/**
 * A candidate this much slower than the best so far, in its warm-up measurement, is not timed
 * further: it cannot win, and the timed runs of losers were most of the tuning time (about
 * 1.3 s a candidate for ResNet-18 on llvmpipe, compiling took under 0.02 s).
 */
const hopeless = 1.5;

/**
 * The layer's output (one full run, checked by the caller) and the median of `runs` GPU-time
 * measurements (Model.measure: no upload or readback). Each measurement repeats the layer until
 * it lasts 2 ms, so a layer that takes microseconds on a real GPU is timed as precisely as one
 * that takes milliseconds on a CPU emulation. When the warm-up measurement is `hopeless` times
 * `best` (the fastest candidate so far) or worse, that one measurement is the result.
 */
async function measure(
  model: Measurable,
  graph: Graph,
  runs: number,
  batch: number,
  layout: Layout,
  best: number,
  alone: Ahead["alone"],
): Promise<{ ms: number; out: Float32Array }> {
  const inputs = Object.fromEntries(
    graph.inputs.map((i) => {
      const data = Float32Array.from(
        { length: batch * i.shape.reduce((a, b) => a * b, 1) },
        (_, k) => Math.sin(k),
      );
      return [i.name, layout === "nhwc" && i.shape.length === 3 ? toNhwc(data, i.shape) : data];
    }),
  );
  const out = (await model.run(inputs, { batch })).y!.data; // (compiles, on llvmpipe)
  const ms = await alone(async () => {
    let repeats = 1;
    let once = await model.measure({ batch }); // also the warm-up
    while (once * repeats < 2 && repeats < 4096) {
      repeats *= 4;
      once = await model.measure({ batch, repeats });
    }
    if (once > hopeless * best) return once;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push(await model.measure({ batch, repeats }));
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  });
  return { ms, out };
}

/** The same batch of [C, H, W] tensors in NHWC order. */
function toNhwc(data: Float32Array, [c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  const per = c! * h! * w!;
  for (let b = 0; b < data.length / per; b++) {
    for (let ch = 0; ch < c!; ch++) {
      for (let p = 0; p < h! * w!; p++)
        out[b * per + p * c! + ch] = data[b * per + ch * h! * w! + p]!;
    }
  }
  return out;
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
  /** The kernel chosen: the fastest in the layout its input was given. */
  readonly best: KernelChoice;
  readonly bestMs: number;
  /** Every candidate measured, fastest first (the hopeless ones by their warm-up alone). */
  readonly timings: readonly { readonly kernel: string; readonly ms: number }[];
  /** Candidates whose output differed from the default kernel's (not used). */
  readonly rejected: readonly string[];
  /** Candidates not measured: the cost model ranked them below those that stopped improving. */
  readonly skipped: number;
  /** What the cost model knows of the layer (`cnnc tune --record` keeps it with the timings). */
  readonly features?: LayerFeatures;
}

/**
 * Without `exhaustive`, a layer's candidates are measured in the cost model's order until
 * `patience` in a row fail to beat the fastest so far by `improvement`, and at least
 * `minMeasured` were measured.
 */
const patience = 2;
const improvement = 0.02;
const minMeasured = 3;

/** Whether a step's candidate `index` is measured whatever the ones before it measure. */
export const surelyMeasured = (index: number, exhaustive = false): boolean =>
  exhaustive || index < minMeasured;

/** What decides a network's tuning plan: the candidates and the order they are measured in. */
export interface PlanOptions {
  /** The batch size to measure at (default 1): a dense layer's best kernel depends on it. */
  readonly batch?: number;
  /** Which of a layer's candidates to measure (all when absent); the default always is. */
  readonly filter?: (c: KernelChoice) => boolean;
  /** As the tuned bundle will be built (default true): which values share a layout. */
  readonly eliminateConcat?: boolean;
  /**
   * Give every conv whose input may take either layout a kernel reading this one (the
   * default kernel is still measured, as the reference); absent: measure both and choose.
   */
  readonly layout?: Layout;
  /** The class of adapter measured: its defaults are the reference, its model the order. */
  readonly target?: Target;
}

/** One distinct layer shape and its candidates, the default first, then the cost model's order. */
export interface TuningStep {
  readonly nodes: readonly Node[];
  readonly byDefault: KernelChoice;
  readonly list: readonly KernelChoice[];
}

/**
 * The tuner's work, in order: each distinct tunable layer (same op, shapes, attributes and
 * layout freedom: one measurement serves all its layers) with its candidates. The same graph and
 * options give the same plan, so another process can compile the candidates ahead.
 */
export function tuningPlan(
  graph: Graph,
  options: PlanOptions = {},
): { steps: TuningStep[]; layouts: ReturnType<typeof layoutGroups> } {
  const shapes = valueShapes(graph);
  const layouts = layoutGroups(
    graph,
    options.eliminateConcat === false ? new Map() : concatSlices(graph),
  );
  const nhwcReady = (n: Node): boolean =>
    n.op === "conv2d" && layouts.free.has(layouts.groupOf.get(n.inputs[0]!)!);
  const groups = new Map<string, Node[]>();
  for (const n of graph.nodes.filter((n) => tunable(n, shapes.get(n.inputs[0]!)))) {
    const key = JSON.stringify([
      n.op,
      n.inputs.map((v) => shapes.get(v)),
      n.attrs,
      n.shape,
      nhwcReady(n),
    ]);
    groups.set(key, [...(groups.get(key) ?? []), n]);
  }
  // Every layer shape's candidates, the default first: its output is what every other
  // candidate must reproduce. Listed up front, so that progress can say "i of N".
  const steps = [...groups.values()].map((nodes) => {
    const first = nodes[0]!;
    const [byDefault, ...others] = candidates(
      first,
      shapes.get(first.inputs[0]!),
      options.batch ?? 1,
      nhwcReady(first),
      options.target ?? "gpu",
    );
    const wanted = (c: KernelChoice): boolean =>
      (options.filter?.(c) ?? true) &&
      (!options.layout || !nhwcReady(first) || readsIn(c) === options.layout);
    return { nodes, byDefault: byDefault!, list: [byDefault!, ...others.filter(wanted)] };
  });
  return { steps, layouts };
}

/** The bundle that measures one candidate: the step's first layer alone, with that kernel. */
export function candidateBundle(
  graph: Graph & { readonly constants: Constants },
  step: TuningStep,
  candidate: KernelChoice,
): Uint8Array {
  const first = step.nodes[0]!;
  // One layer, its weights as the network has them: no pass to run on it. Its sizes read from
  // the uniform, as a shape family's shader reads them: layers of other shapes that take the
  // same candidate run the same text, compiled once (and measured as the bundle ships it).
  return compileGraph(alone(graph, first), {
    passes: [],
    choices: new Map([[first.name, candidate]]),
    inputLayout: readsIn(candidate),
    shapeFamilies: "every size",
  }).bundle!;
}

/**
 * Loads a bundle and dispatches every kernel once, for what that compiles (llvmpipe compiles a
 * kernel at its first dispatch): a loader that keeps pipelines, or a driver that keeps compiled
 * shaders, then has it. A bundle that fails fails again when it is measured, and is reported then.
 */
export async function dispatchOnce(load: Loader, bundle: Uint8Array, batch: number): Promise<void> {
  try {
    const model = await load(bundle);
    try {
      await model.measure({ batch });
    } finally {
      model.dispose();
    }
  } catch {
    // (see above)
  }
}

/**
 * Compiles candidates before the tuner loads them, where that does not slow its measuring
 * (another process, on another core): on an adapter that keeps compiled shaders across
 * processes (Mesa's disk cache), loading one then costs no compile.
 */
export interface Ahead {
  /**
   * Candidate `index` of step `step` is loaded next: resolves when it is not being compiled
   * elsewhere. While it is, `compileHere` may compile others, for the loader to keep.
   */
  next(
    step: number,
    index: number,
    compileHere: (step: number, index: number) => Promise<void>,
  ): Promise<void>;
  /** The step's other candidates will not be measured. */
  finished(step: number): void;
  /** Runs `timing` with nothing compiling elsewhere (on a machine that it would slow). */
  alone<T>(timing: () => Promise<T>): Promise<T>;
}

/** Measures every candidate for every distinct tunable layer; returns the winners. */
export async function tuneGraph(
  graph: Graph & { readonly constants: Constants },
  load: Loader,
  options: PlanOptions & {
    readonly runs?: number;
    /** Measure every candidate, not only the cost model's first until they stop improving. */
    readonly exhaustive?: boolean;
    /** Hears of each candidate measured: done of all candidates, with the layer's name. */
    readonly onProgress?: (done: number, total: number, layer: string) => void;
    /** Compiles the plan's candidates ahead of their measuring. */
    readonly ahead?: Ahead;
  } = {},
): Promise<{ choices: Map<string, KernelChoice>; report: TunedLayer[] }> {
  const shapes = valueShapes(graph);
  const { steps: work, layouts } = tuningPlan(graph, options);
  const batch = options.batch ?? 1;
  const measured: Measured[] = [];
  const compileHere = (step: number, index: number) =>
    dispatchOnce(load, candidateBundle(graph, work[step]!, work[step]!.list[index]!), batch);
  const total = work.reduce((n, w) => n + w.list.length, 0);
  let done = 0;
  for (const [index, step] of work.entries()) {
    const { nodes, byDefault, list } = step;
    const first = nodes[0]!;
    const single = alone(graph, first);
    const timings: [KernelChoice, number][] = [];
    const rejected: string[] = [];
    let reference: Float32Array | undefined;
    let tried = 0;
    let misses = 0;
    for (const candidate of list) {
      if (!options.exhaustive && tried >= minMeasured && misses >= patience) {
        done += list.length - tried;
        options.onProgress?.(done, total, first.name);
        break;
      }
      await options.ahead?.next(index, tried, compileHere);
      tried++;
      const layout = readsIn(candidate);
      const model = await load(candidateBundle(graph, step, candidate));
      try {
        // The best so far reading the same layout: each layout's fastest is timed in full.
        const best = Math.min(...timings.filter(([c]) => readsIn(c) === layout).map(([, t]) => t));
        const { ms, out } = await measure(
          model,
          single,
          options.runs ?? 3,
          batch,
          layout,
          best,
          options.ahead?.alone.bind(options.ahead) ?? ((timing) => timing()),
        );
        reference ??= out;
        // A driver may miscompile a configuration (seen on emulated adapters): never keep one
        // whose result differs from the default kernel's.
        const before = Math.min(...timings.map(([, t]) => t));
        if (relativeError(reference, out) > 1e-4) {
          rejected.push(choiceName(candidate));
          misses++;
        } else {
          timings.push([candidate, ms]);
          misses = ms < before * (1 - improvement) ? 0 : misses + 1;
        }
      } finally {
        model.dispose();
      }
      options.onProgress?.(++done, total, first.name);
    }
    options.ahead?.finished(index);
    measured.push({ nodes, byDefault, timings, rejected, skipped: list.length - tried });
  }

  const nhwcGroups =
    options.layout === undefined
      ? groupsFasterNhwc(measured, layouts.groupOf)
      : new Set(
          options.layout === "nhwc"
            ? measured.flatMap((m) => m.nodes).map((n) => layouts.groupOf.get(n.inputs[0]!)!)
            : [],
        );
  const chosen = new Map<string, KernelChoice>();
  const report: TunedLayer[] = [];
  for (const m of measured) {
    const first = m.nodes[0]!;
    // Layers of one shape may read groups that chose differently: a report line each way.
    const byLayout = new Map<Layout, Node[]>();
    for (const n of m.nodes) {
      const g = layouts.groupOf.get(n.inputs[0]!)!;
      const layout: Layout = nhwcGroups.has(g) ? "nhwc" : "nchw";
      byLayout.set(layout, [...(byLayout.get(layout) ?? []), n]);
    }
    const features = layerFeatures(first, shapes.get(first.inputs[0]!), batch);
    for (const [layout, nodes] of byLayout) {
      const [best, bestMs] = fastest(m, layout) ?? fastest(m, "nchw")!;
      for (const n of nodes) chosen.set(n.name, best);
      const defaultMs = m.timings.find(([c]) => c === m.byDefault)?.[1] ?? bestMs;
      report.push({
        layers: nodes.map((x) => x.name),
        shape: `${first.op} ${first.inputs.map((v) => `[${shapes.get(v)!.join(",")}]`).join(" ")} -> [${first.shape.join(",")}]`,
        defaultMs,
        best,
        bestMs,
        timings: m.timings
          .map(([c, ms]) => ({ kernel: choiceName(c), ms }))
          .sort((a, b) => a.ms - b.ms),
        rejected: m.rejected,
        skipped: m.skipped,
        ...(features ? { features } : {}),
      });
    }
  }
  return { choices: chosen, report };
}

interface Measured {
  readonly nodes: readonly Node[];
  readonly byDefault: KernelChoice;
  /** Each candidate that computed the right result, with its GPU time. */
  readonly timings: readonly (readonly [KernelChoice, number])[];
  readonly rejected: readonly string[];
  readonly skipped: number;
}

/** The fastest candidate reading `layout`, if any was measured. */
function fastest(
  m: Pick<Measured, "timings">,
  layout: Layout,
): readonly [KernelChoice, number] | undefined {
  const fit = m.timings.filter(([c]) => readsIn(c) === layout);
  return fit.length ? fit.reduce((a, b) => (b[1] < a[1] ? b : a)) : undefined;
}

/**
 * The layout groups (layout.ts) to store NHWC: those whose conv readers, each with its fastest
 * kernel for the layout, take less time in all reading NHWC than reading NCHW. `measured`: the
 * timings of each set of same-shape layers (`nodes`), one measurement serving them all.
 */
export function groupsFasterNhwc(
  measured: readonly Pick<Measured, "nodes" | "timings">[],
  groupOf: ReadonlyMap<string, string>,
): Set<string> {
  const saving = new Map<string, number>();
  for (const m of measured) {
    const [nchw, nhwc] = [fastest(m, "nchw"), fastest(m, "nhwc")];
    if (!nchw || !nhwc) continue;
    for (const n of m.nodes) {
      const g = groupOf.get(n.inputs[0]!)!;
      saving.set(g, (saving.get(g) ?? 0) + nchw[1] - nhwc[1]);
    }
  }
  return new Set([...saving].filter(([, ms]) => ms > 0).map(([g]) => g));
}

/** The layout a choice reads its input in. */
const readsIn = (c: KernelChoice): Layout => readsLayout(c) ?? "nchw";

/** How the manifest's `tuning` names each layer's choice. */
export function tuningNames(choices: ReadonlyMap<string, KernelChoice>): Record<string, string> {
  return Object.fromEntries([...choices].map(([name, c]) => [name, choiceName(c)]));
}
