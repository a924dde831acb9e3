// `cnnc build`: .cnn -> .cnnb. Weights come from a safetensors file (names are layer paths)
// or, without one, are initialised deterministically from --seed.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Layout, Plan, Target } from "../compiler/codegen/index.js";
import { compileGraph, type CompileOptions } from "../compiler/compile.js";
import { printIr, type Graph } from "../compiler/ir/index.js";
import { readSafetensors, writeSafetensors, type NamedTensor } from "../compiler/weights/index.js";
import { positiveInt, seed, UserError, type Io } from "./common.js";
import { compileOptions, type OptimizeOptions } from "./optimize.js";
import { outputFolder, writeOutput } from "./output.js";

export interface BuildOptions extends OptimizeOptions {
  readonly weights?: string;
  readonly seed?: string;
  readonly maxBinding?: string;
  /** Store every activation that may be either layout in this one (CodegenOptions.layout). */
  readonly layout?: Layout;
  /** Whose default kernels: a GPU's, a CPU emulation's or both (CompileOptions.target). */
  readonly target?: Target | "any";
  /** false (--no-quick-start): no quick start for CPU emulations (CompileOptions.quickStart). */
  readonly quickStart?: boolean;
  /** --f16: weights stored as halves (CompileOptions.weightFormat). */
  readonly f16?: boolean;
}

export interface Built {
  readonly bytes: Uint8Array;
  readonly plan: Plan;
  /** With --target any: the CPU emulations' plan, the bundle's variant. */
  readonly cpuPlan?: Plan;
  /** The CPU emulations' quick start, where the bundle carries one. */
  readonly quickPlan?: Plan;
  /** The graph the bundle runs (after the passes), with its weights. */
  readonly graph: Graph & { readonly constants: ReadonlyMap<string, Float32Array> };
  /** The network as written, with its weights by layer path (what --weights takes). */
  readonly source: Graph & { readonly constants: ReadonlyMap<string, Float32Array> };
  readonly report: readonly string[];
  /** What exceeds WebGPU's default limits (Compiled.warnings). */
  readonly warnings: readonly string[];
}

/** The tensors of a --weights file, keyed by layer path. */
export function weightsFile(path: string): ReadonlyMap<string, NamedTensor> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new UserError(`cannot read weights file '${path}'`);
  }
  return readSafetensors(bytes, path);
}

/** The driver's options for a build's flags: the passes', the weights', the target's. */
export function buildOptions(io: Io, o: BuildOptions, extra: CompileOptions = {}): CompileOptions {
  return {
    ...compileOptions(io, o),
    ...(o.weights ? { weights: weightsFile(o.weights), weightsSource: `'${o.weights}'` } : {}),
    seed: seed(o.seed),
    ...(o.maxBinding ? { maxBindingBytes: positiveInt(o.maxBinding, "--max-binding") } : {}),
    ...(o.layout ? { layout: o.layout } : {}),
    ...(o.target ? { target: o.target } : {}),
    ...(o.quickStart === false ? { quickStart: false } : {}),
    ...(o.f16 ? { weightFormat: "f16" as const } : {}),
    ...(io.progress ? { onProgress: io.progress.update } : {}),
    ...extra,
  };
}

/** Compiles through the driver (weights, passes, codegen, bundle). */
export function buildGraph(
  io: Io,
  graph: Graph,
  o: BuildOptions,
  extra: CompileOptions = {},
): Built {
  let compiled;
  try {
    compiled = compileGraph(graph, buildOptions(io, o, extra));
  } finally {
    io.progress?.done();
  }
  const constants = compiled.graph.constants;
  const sourceConstants = compiled.source.constants;
  if (!compiled.bundle || !compiled.plan || !constants || !sourceConstants)
    throw new Error("internal: the driver made no bundle");
  return {
    bytes: compiled.bundle,
    plan: compiled.plan,
    ...(compiled.cpuPlan ? { cpuPlan: compiled.cpuPlan } : {}),
    ...(compiled.quickPlan ? { quickPlan: compiled.quickPlan } : {}),
    graph: { ...compiled.graph, constants },
    source: { ...compiled.source, constants: sourceConstants },
    report: compiled.report,
    warnings: compiled.warnings ?? [],
  };
}

/** --emit-dir: the bundle's parts as files, for reading and diffing. */
export function emitParts(dir: string, built: Built): void {
  const graph = built.graph;
  outputFolder(join(dir, "kernels"));
  const { plan } = built;
  writeOutput(join(dir, "ir.txt"), printIr(graph));
  writeOutput(
    join(dir, "plan.json"),
    JSON.stringify({ ...plan, kernels: plan.kernels.map((_, k) => `kernels/${k}.wgsl`) }, null, 2) +
      "\n",
  );
  plan.kernels.forEach((code, k) => {
    const users = plan.dispatches.filter((d) => d.kernel === k).map((d) => d.label);
    writeOutput(join(dir, "kernels", `${k}.wgsl`), `// used by: ${users.join(", ")}\n${code}`);
  });
  const tensors = new Map(
    [...built.source.constants].map(([name, data]) => [
      name,
      { shape: built.source.weights.find((w) => w.name === name)!.shape, data },
    ]),
  );
  writeOutput(join(dir, "weights.safetensors"), writeSafetensors(tensors));
}
