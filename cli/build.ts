// `cnnc build`: .cnn -> .cnnb. Weights come from a safetensors file (names are layer paths)
// or, without one, are initialised deterministically from --seed.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeBundle } from "../compiler/bundle/index.js";
import { CodegenError, planGraph, type Layout, type Plan } from "../compiler/codegen/index.js";
import { printIr, type Graph } from "../compiler/ir/index.js";
import {
  bindWeights,
  initWeights,
  readSafetensors,
  SafetensorsError,
  WeightsError,
  writeSafetensors,
} from "../compiler/weights/index.js";
import { UserError } from "./common.js";

export interface BuildOptions {
  readonly weights?: string;
  readonly seed?: number;
  readonly maxBinding?: number;
  /** Share activation memory between values not live at once (-O1 and up). */
  readonly planMemory?: boolean;
  /** Convs write straight into their concat's slice (-O2). */
  readonly eliminateConcat?: boolean;
  /** Store every activation that may be either layout in this one (CodegenOptions.layout). */
  readonly layout?: Layout;
}

export interface Built {
  readonly bytes: Uint8Array;
  readonly plan: Plan;
  /** The graph the bundle runs (after the passes), with its weights. */
  readonly graph: Graph & { readonly constants: ReadonlyMap<string, Float32Array> };
  /** The network as written, with its weights by layer path (what --weights takes). */
  readonly source: Graph & { readonly constants: ReadonlyMap<string, Float32Array> };
}

/** Weights from --weights, else those the graph came with (an imported model), else generated. */
export function loadWeights(graph: Graph, options: BuildOptions): Map<string, Float32Array> {
  if (!options.weights && graph.constants) return new Map(graph.constants);
  if (!options.weights) return initWeights(graph, options.seed ?? 0);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(options.weights);
  } catch {
    throw new UserError(`cannot read weights file '${options.weights}'`);
  }
  try {
    return bindWeights(graph, readSafetensors(bytes, options.weights), `'${options.weights}'`);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new UserError(e.message);
    if (e instanceof WeightsError)
      throw new UserError(`the weights do not fit the network:\n  ${e.problems.join("\n  ")}`);
    throw e;
  }
}

/**
 * Weights, passes, codegen, bundle. `optimize` runs the passes (identity when absent), on the
 * graph with its weights attached, so that folding passes rewrite the weights too.
 */
export function buildGraph(
  graph: Graph,
  options: BuildOptions,
  optimize: (g: Graph) => Graph = (g) => g,
): Built {
  const weights = loadWeights(graph, options);
  const optimized = optimize({ ...graph, constants: weights });
  const constants = optimized.constants;
  if (!constants) throw new Error("internal: a pass dropped the weights");
  let plan: Plan;
  try {
    plan = planGraph(optimized, {
      ...(options.maxBinding ? { maxBindingBytes: options.maxBinding } : {}),
      planMemory: options.planMemory ?? true,
      eliminateConcat: options.eliminateConcat ?? true,
      ...(options.layout ? { layout: options.layout } : {}),
    });
  } catch (e) {
    if (e instanceof CodegenError) throw new UserError(e.message);
    throw e;
  }
  return {
    bytes: writeBundle(plan, constants, printIr(optimized)),
    plan,
    graph: { ...optimized, constants },
    source: { ...graph, constants: weights },
  };
}

/** --emit-dir: the bundle's parts as files, for reading and diffing. */
export function emitParts(dir: string, built: Built): void {
  const graph = built.graph;
  mkdirSync(join(dir, "kernels"), { recursive: true });
  const { plan } = built;
  writeFileSync(join(dir, "ir.txt"), printIr(graph));
  writeFileSync(
    join(dir, "plan.json"),
    JSON.stringify({ ...plan, kernels: plan.kernels.map((_, k) => `kernels/${k}.wgsl`) }, null, 2) +
      "\n",
  );
  plan.kernels.forEach((code, k) => {
    const users = plan.dispatches.filter((d) => d.kernel === k).map((d) => d.label);
    writeFileSync(join(dir, "kernels", `${k}.wgsl`), `// used by: ${users.join(", ")}\n${code}`);
  });
  const tensors = new Map(
    [...built.source.constants].map(([name, data]) => [
      name,
      { shape: built.source.weights.find((w) => w.name === name)!.shape, data },
    ]),
  );
  writeFileSync(join(dir, "weights.safetensors"), writeSafetensors(tensors));
}
