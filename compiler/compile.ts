// The compile driver: the one function every caller (the CLI's build, run, ir, graph, summary
// and tune; the playground; the tests; the bench scripts) goes through from a network to a
// bundle. It owns the whole meaning of -O:
//   -O0  legalisation only (non-core ops into core ops); every value its own buffer;
//   -O1  + cleanups and BN folding; memory planning (values not live at once share memory);
//   -O2  + exact spatial decomposition and fusion; concat elimination.
// An explicit pass list replaces the level's passes (legalisation first all the same) and
// plans like -O2. Errors a user can act on are CompileErrors (compiler/errors.ts).
import { writeBundle } from "./bundle/index.js";
import {
  CodegenError,
  planGraph,
  type KernelChoice,
  type Target,
  type Layout,
  type Plan,
} from "./codegen/index.js";
import { CompileError } from "./errors.js";
import { printIr, type Graph } from "./ir/index.js";
import { compileFrontend, memoryHost, type SourceHost } from "./lower/index.js";
import {
  allPasses,
  decomposeSpatial,
  passesByName,
  runPasses,
  UnknownPassError,
  type Pass,
} from "./passes/index.js";
import { deadCode } from "./passes/dce.js";
import { foldBatchNorm } from "./passes/fold-batchnorm.js";
import { foldPadding } from "./passes/fold-padding.js";
import { legalize } from "./passes/legalize.js";
import { summarize, type NetworkReport, type SummaryOptions } from "./analysis/index.js";
import { bindWeights, initWeights, WeightsError, type NamedTensor } from "./weights/index.js";
import { wgslBytes, type Manifest, type WeightFormat } from "../runtime/format.js";
import { beyondHalf, maxHalf } from "../runtime/half.js";
import { halfWeights } from "./codegen/half-weights.js";
import { batchProblem, defaultLimits, fixedProblems } from "../runtime/limits.js";
import type { Diagnostic } from "../grammar/diagnostics.js";

export type OptLevel = 0 | 1 | 2;

export interface CompileOptions {
  /** Optimisation level (default 2). */
  readonly opt?: OptLevel;
  /** Run these passes (by name, or passes themselves) instead of the level's. */
  readonly passes?: readonly (string | Pass)[];
  /** Let decompose-spatial approximate: keep singular values down to this share of the norm. */
  readonly decomposeTolerance?: number;
  /** Verify the IR after every pass. */
  readonly verifyEach?: boolean;
  /** The IR text after the named pass. */
  readonly dumpIr?: { readonly after: string; readonly write: (text: string) => void };
  /** A line for each pass that did something (`fold-batchnorm: folded 20 batch norms`). */
  readonly onReport?: (line: string) => void;
  /**
   * Hears how the long steps go: `step` names one ("generating weights", "optimising",
   * "writing the bundle"), `done` of `total` its units; for progress bars.
   */
  readonly onProgress?: (step: string, done: number, total: number) => void;
  /** Weights by layer path (a safetensors file's tensors); checked against the network. */
  readonly weights?: ReadonlyMap<string, NamedTensor>;
  /** Where `weights` came from, for errors. */
  readonly weightsSource?: string;
  /** Seed of generated weights when none are given and the graph carries none. */
  readonly seed?: number;
  /** The kernel of each tuned layer (cnnc tune); absent: the defaults. */
  readonly choices?: ReadonlyMap<string, KernelChoice>;
  /**
   * Whose defaults: a GPU's (the default) or a CPU emulation's (llvmpipe, SwiftShader); "any":
   * both, the CPU emulations' as a variant the runtime takes on such an adapter (a bundle for
   * the web, whose adapter is unknown when it is built).
   */
  readonly target?: Target | "any";
  /** Recorded in the bundle's manifest. */
  readonly tuning?: Manifest["tuning"];
  /** Store every activation that may take either layout in this one. */
  readonly layout?: Layout;
  /** NHWC: the network's [C, H, W] inputs arrive so (cnnc tune measuring one layer). */
  readonly inputLayout?: Layout;
  /** The largest storage binding of the target (WebGPU's default 128 MiB). */
  readonly maxBindingBytes?: number;
  /**
   * One shader per shape family, the sizes in the uniform (default true; codegen/families.ts).
   * False: every kernel of the chosen plans specialised to its layer; the quick start's plan
   * takes families still (its point is few shaders to compile). "every size": every size
   * that may vary read from the uniform, in a family of one too (cnnc tune's candidates).
   */
  readonly shapeFamilies?: boolean | "every size";
  /**
   * Carry a quick start for CPU emulations (default true): a second plan of kernels quick to
   * compile, which the runtime runs until the chosen ones are compiled (codegen/plan.ts
   * `quick`), where it saves most of the compiling before the first result; "always": even
   * where it saves little (tests of its kernels).
   */
  readonly quickStart?: boolean | "always";
  /**
   * "f16": store the weights as halves (half the bytes); a GPU's kernels read them so, CPU
   * emulations' widened to f32, all computing in f32 (codegen/half-weights.ts). A weight
   * beyond f16's range is refused.
   */
  readonly weightFormat?: WeightFormat;
  /** Override the level's memory planning (tests that give every value its own buffer). */
  readonly planMemory?: boolean;
  /** Stop after the passes: no plan, no bundle (cnnc ir, graph, summary --optimized). */
  readonly passesOnly?: boolean;
}

export interface Compiled {
  /** The network as given, with its weights by layer path. */
  readonly source: Graph & { readonly constants?: ReadonlyMap<string, Float32Array> };
  /** After legalisation and the passes; with weights unless `passesOnly` and none were given. */
  readonly graph: Graph;
  readonly plan?: Plan;
  /** With target "any": the plan for CPU emulations, carried as the bundle's variant. */
  readonly cpuPlan?: Plan;
  /** The quick start for CPU emulations, where the bundle carries one (Manifest.quick). */
  readonly quickPlan?: Plan;
  readonly bundle?: Uint8Array;
  readonly summary: NetworkReport;
  /** Each pass's report line. */
  readonly report: readonly string[];
  /** What of the bundle exceeds WebGPU's default limits (or the given binding size) at batch
   * 1: it loads only on devices that raise them. */
  readonly warnings?: readonly string[];
}

export interface Pipeline {
  readonly passes: readonly Pass[];
  /** Values not live at once share arena memory (codegen/memory.ts). */
  readonly planMemory: boolean;
  /** A conv whose only reader is a concat writes into its channel slice (codegen/plan.ts). */
  readonly eliminateConcat: boolean;
}

/** What each -O level means: its passes, in order, and its codegen steps. */
export const levels: Readonly<Record<OptLevel, Pipeline>> = {
  0: { passes: [legalize], planMemory: false, eliminateConcat: false },
  1: {
    passes: [legalize, foldBatchNorm, foldPadding, deadCode],
    planMemory: true,
    eliminateConcat: false,
  },
  // every pass, in the canonical order (passes/pipeline.ts)
  2: {
    passes: allPasses,
    planMemory: true,
    eliminateConcat: true,
  },
};

/** The passes and codegen steps of a level (or an explicit pass list). */
export function pipelineFor(
  options: Pick<CompileOptions, "opt" | "passes" | "decomposeTolerance">,
): Pipeline {
  let passes: readonly Pass[];
  const level = options.opt ?? 2;
  if (options.passes !== undefined) {
    try {
      const named = options.passes.map((p) => (typeof p === "string" ? passesByName([p])[0]! : p));
      passes =
        named[0]?.name === "legalize" ? named : [legalize, ...named.filter((p) => p !== legalize)];
    } catch (e) {
      if (e instanceof UnknownPassError) throw new CompileError(e.message);
      throw e;
    }
  } else {
    if (![0, 1, 2].includes(level)) throw new CompileError(`-O takes 0, 1 or 2, got '${level}'`);
    passes = levels[level].passes;
  }
  if (options.decomposeTolerance !== undefined) {
    const tol = options.decomposeTolerance;
    if (!(tol > 0 && tol < 1))
      throw new CompileError(
        `the decompose tolerance takes a number between 0 and 1, got '${tol}'`,
      );
    if (!passes.some((p) => p.name === "decompose-spatial"))
      throw new CompileError("the decompose-spatial pass does not run here (use -O2)");
    const approximate = decomposeSpatial(tol);
    passes = passes.map((p) => (p.name === "decompose-spatial" ? approximate : p));
  }
  // An explicit list plans as -O2 does.
  const steps = levels[options.passes !== undefined ? 2 : level];
  return { passes, planMemory: steps.planMemory, eliminateConcat: steps.eliminateConcat };
}

/** The most weight values cnnc generates (1 GiB of f32; VGG-16 has 138 M). */
export const maxGeneratedWeights = 2 ** 28;

/** The weights a compile uses: given ones (checked), the graph's own, or generated. */
function weightsOf(graph: Graph, options: CompileOptions): ReadonlyMap<string, Float32Array> {
  if (options.weights) {
    try {
      return bindWeights(graph, options.weights, options.weightsSource ?? "the weights");
    } catch (e) {
      if (e instanceof WeightsError)
        throw new CompileError(`the weights do not fit the network:\n  ${e.problems.join("\n  ")}`);
      throw e;
    }
  }
  if (graph.constants) return graph.constants;
  // Checked before a byte is allocated: a one-line `dense(400000)` asks for gigabytes.
  const values = graph.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  if (values > maxGeneratedWeights)
    throw new CompileError(
      `the network's weights take ${((values * 4) / 2 ** 30).toFixed(1)} GiB (${values.toLocaleString("en-US")} values); cnnc generates at most ${(maxGeneratedWeights * 4) / 2 ** 30} GiB of weights (give trained ones)`,
    );
  return initWeights(graph, options.seed ?? 0, (done, total) =>
    options.onProgress?.("generating weights", done, total),
  );
}

/** Legalise, optimise, plan and bundle a network graph. */
export function compileGraph(graph: Graph, options: CompileOptions = {}): Compiled {
  const pipeline = pipelineFor(options);
  if (options.dumpIr && !pipeline.passes.some((p) => p.name === options.dumpIr!.after)) {
    throw new CompileError(
      `--dump-ir ${options.dumpIr.after}: that pass does not run here (running: ${pipeline.passes.map((p) => p.name).join(", ")})`,
    );
  }
  // Structure only (cnnc ir, graph, summary): weights only where given or asked for by a seed.
  const structureOnly =
    options.passesOnly && !options.weights && !graph.constants && options.seed === undefined;
  const withWeights = structureOnly ? graph : { ...graph, constants: weightsOf(graph, options) };
  const report: string[] = [];
  options.onProgress?.("optimising", 0, 1);
  const optimized = runPasses(withWeights, pipeline.passes, {
    ...(options.verifyEach ? { verifyEach: true } : {}),
    ...(options.dumpIr ? { dump: options.dumpIr } : {}),
    report: (pass, line) => {
      report.push(`${pass}: ${line}`);
      options.onReport?.(`${pass}: ${line}`);
    },
  });
  const base = { source: withWeights, graph: optimized, summary: summarize(optimized), report };
  if (options.passesOnly) return base;
  const constants = optimized.constants;
  if (!constants) throw new Error("internal: a pass dropped the weights");
  let plan: Plan;
  let cpuPlan: Plan | undefined;
  let quickPlan: Plan | undefined;
  try {
    const planFor = (target: Target | undefined, choices = options.choices, quick = false): Plan =>
      planGraph(optimized, {
        ...(quick ? { quick } : {}),
        ...(options.maxBindingBytes ? { maxBindingBytes: options.maxBindingBytes } : {}),
        planMemory: options.planMemory ?? pipeline.planMemory,
        eliminateConcat: pipeline.eliminateConcat,
        ...(choices ? { choices } : {}),
        ...(target ? { target } : {}),
        ...(options.layout ? { layout: options.layout } : {}),
        ...(options.inputLayout ? { inputLayout: options.inputLayout } : {}),
        ...(options.shapeFamilies !== undefined && options.shapeFamilies !== true && !quick
          ? { shapeFamilies: options.shapeFamilies }
          : {}),
      });
    const any = options.target === "any";
    plan = planFor(any ? "gpu" : options.target);
    // (a tuned layer's choice is the adapter's it was measured on: not the variant's)
    if (any) cpuPlan = planFor("cpu", new Map());
    const cpuMain = any ? cpuPlan : options.target === "cpu" ? plan : undefined;
    if (cpuMain && options.quickStart !== false) {
      const quick = planFor("cpu", undefined, true);
      if (options.quickStart === "always" || quickStartPays(cpuMain, quick)) quickPlan = quick;
    }
  } catch (e) {
    if (e instanceof CodegenError) throw new CompileError(e.message);
    throw e;
  }
  const half = options.weightFormat === "f16";
  if (half) {
    for (const [name, values] of constants) {
      const i = beyondHalf(values);
      if (i >= 0)
        throw new CompileError(
          `weight '${name}' holds ${values[i]} (at ${i}), beyond f16's largest magnitude ${maxHalf}: build it with f32 weights (without --f16)`,
        );
    }
    // (CPU emulations' plans read them widened to f32: half-weights.ts says why)
    if (options.target !== "cpu") plan = halfWeights(plan);
  }
  // The bundle carries the network as written (legalised, before the fold passes) and its
  // source weights, so that `--cpu` on it and every derived weight trace back to them.
  const bundle = writeBundle(
    plan,
    constants,
    printIr(optimized),
    options.tuning,
    (done, total) =>
      options.onProgress?.(
        "writing the bundle, MiB",
        Math.round(done / 2 ** 20),
        Math.round(total / 2 ** 20),
      ),
    cpuPlan ? { cpu: cpuPlan } : undefined,
    quickPlan ? { cpu: quickPlan } : undefined,
    half ? "f16" : "f32",
  );
  const warnings = [plan, ...(cpuPlan ? [cpuPlan] : []), ...(quickPlan ? [quickPlan] : [])].flatMap(
    (p) => beyondLimits(p, options.maxBindingBytes),
  );
  return {
    ...base,
    plan,
    ...(cpuPlan ? { cpuPlan } : {}),
    ...(quickPlan ? { quickPlan } : {}),
    bundle,
    warnings: [...new Set(warnings)],
  };
}

/**
 * Whether a quick start saves enough compiling to carry: its shaders at most half the chosen
 * plan's WGSL and at least `quickStartMinSaving` bytes fewer. On llvmpipe compile time goes with
 * the WGSL's size (about 15 ms a KB for the register-blocked kernels); a small network's
 * kernels compile in a fraction of a second, and a second plan would only add to that.
 */
export function quickStartPays(main: Plan, quick: Plan): boolean {
  const bytes = (p: Plan): number => wgslBytes(p.kernels);
  return bytes(quick) * 2 <= bytes(main) && bytes(main) - bytes(quick) >= quickStartMinSaving;
}
export const quickStartMinSaving = 64 * 1024;

/** What the plan needs beyond WebGPU's default limits at batch 1; a target's larger binding
 * size (`maxBindingBytes`) raises the binding and buffer limits to it. */
function beyondLimits(plan: Plan, maxBinding: number | undefined): string[] {
  const limits =
    maxBinding === undefined
      ? defaultLimits
      : {
          ...defaultLimits,
          maxStorageBufferBindingSize: maxBinding,
          maxBufferSize: Math.max(maxBinding, defaultLimits.maxBufferSize),
        };
  const atOne = batchProblem(plan, limits, 1);
  return [...fixedProblems(plan, limits), ...(atOne ? [atOne] : [])];
}

export interface SourceOptions extends CompileOptions {
  /** The entry file's name (diagnostics point into it) and the other files `use` may read. */
  readonly file?: string;
  readonly files?: Readonly<Record<string, string>>;
  /** Reads `use`d files; default: only `files`. */
  readonly host?: SourceHost;
  /** Which network, when the source declares several. */
  readonly network?: string;
}

export interface CompileResult extends Partial<Compiled> {
  readonly diagnostics: readonly Diagnostic[];
  /** Every file read, by path: what the diagnostics point into. */
  readonly sources: ReadonlyMap<string, string>;
}

/** The network of a `.cnn` source (or a graph): its diagnostics, then `compileGraph`. */
export function compile(input: string | Graph, options: SourceOptions = {}): CompileResult {
  if (typeof input !== "string")
    return { ...compileGraph(input, options), diagnostics: [], sources: new Map() };
  const { graph, diagnostics, sources } = frontend(input, options);
  if (!graph) return { diagnostics, sources };
  return { ...compileGraph(graph, options), diagnostics, sources };
}

function frontend(text: string, options: SourceOptions) {
  const file = options.file ?? "main.cnn";
  const host = options.host ?? memoryHost({ ...options.files, [file]: text });
  return compileFrontend(file, host, options.network ? { network: options.network } : {});
}

/** The diagnostics of a `.cnn` source: every syntax, name and shape error, and the warnings. */
export function check(text: string, options: SourceOptions = {}): readonly Diagnostic[] {
  return frontend(text, options).diagnostics;
}

/** Shapes, parameters, MACs, receptive field and memory of a `.cnn` source or a graph. */
export function summarizeNetwork(
  input: string | Graph,
  options: SourceOptions & SummaryOptions = {},
): NetworkReport | undefined {
  const counted = { ...(options.batch !== undefined ? { batch: options.batch } : {}) };
  if (typeof input !== "string") return summarize(input, counted);
  const { graph } = frontend(input, options);
  return graph && summarize(graph, counted);
}
