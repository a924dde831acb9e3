// GPU test support: one device per test file (the adapter comes from CNNC_ADAPTER, set per
// vitest project), and a parity check of a network on that device against the reference.
import { expect } from "vitest";
import { compileGraph } from "../../compiler/compile.js";
import {
  tunable,
  type KernelChoice,
  type Layout,
  type Target,
} from "../../compiler/codegen/index.js";
import { interpret } from "../../compiler/interp/index.js";
import { valueShapes, type Graph, type Node, type Shape } from "../../compiler/ir/index.js";
import { initWeights, randomInputs } from "../../compiler/weights/index.js";
import type { Pass } from "../../compiler/passes/index.js";
import { Model, type Tensor } from "../../runtime/index.js";
import { roundToHalf } from "../../runtime/half.js";
import { nodeDevice, type AdapterChoice, type NodeDevice } from "../../runtime/node-device.js";
import { lowerText } from "../support/compile.js";

let shared: Promise<NodeDevice> | undefined;

/** The adapter this test project runs on (vitest.config.ts sets CNNC_ADAPTER per project). */
export const adapterChoice = (process.env.CNNC_ADAPTER as AdapterChoice | undefined) ?? "auto";

/** How the runtime names that adapter: what `adapterName` and `cnnc run`'s first line start with. */
export const adapterWords: RegExp = {
  auto: /^(GPU: |llvmpipe|SwiftShader)/,
  gpu: /^GPU: /,
  llvmpipe: /^llvmpipe/,
  swiftshader: /^SwiftShader/,
}[adapterChoice];

export function gpu(): Promise<NodeDevice> {
  shared ??= nodeDevice(adapterChoice);
  return shared;
}

export const randomInput: (
  graph: Graph,
  batch: number,
  seed: number,
) => Record<string, Float32Array> = randomInputs;

export interface ParityOptions {
  readonly batch?: number;
  readonly seed?: number;
  readonly maxBindingBytes?: number;
  /** Compile the graph through these passes first (the reference runs the graph as given). */
  readonly passes?: readonly Pass[];
  readonly planMemory?: boolean;
  /**
   * The kernel of each layer with a choice (`cnnc tune`'s candidates); absent, or undefined
   * for a layer: the default.
   */
  readonly choose?: (node: Node, input: Shape | undefined) => KernelChoice | undefined;
  /** Weights to use instead of generated ones (e.g. kernels of planted low rank). */
  readonly weights?: Map<string, Float32Array>;
  /** Store every activation that may be either layout in this one (CodegenOptions.layout). */
  readonly layout?: Layout;
  /** Whose default kernels (CodegenOptions.target). */
  readonly target?: Target;
  /**
   * The bundle's quick start (CompileOptions.quickStart; "always" with target "cpu": carried
   * whatever it saves). Where the model starts quick, its first run and a run after `ready`
   * are both checked.
   */
  readonly quickStart?: boolean | "always";
  /**
   * Store the weights as f16 (CompileOptions.weightFormat); the reference then runs on the
   * weights rounded to halves, the values the kernels read.
   */
  readonly f16?: boolean;
  /** The largest error allowed, relative to the output's magnitude where that exceeds 1. */
  readonly tolerance?: number;
  /** CompileOptions.shapeFamilies ("every size": cnnc tune's candidates' form). */
  readonly shapeFamilies?: boolean | "every size";
}

/**
 * Runs the network on the GPU and on the float64 reference; asserts every output agrees
 * within 1e-4 (or `tolerance`), relative to the output's magnitude where that exceeds 1.
 */
export async function expectParity(
  graphOrText: Graph | string,
  options: ParityOptions = {},
): Promise<number> {
  const graph = typeof graphOrText === "string" ? lowerText(graphOrText) : graphOrText;
  const batch = options.batch ?? 1;
  const weights = options.weights ?? initWeights(graph, options.seed ?? 1);
  const choices = new Map<string, KernelChoice>();
  const chosen = compileGraph(
    { ...graph, constants: weights },
    { passes: options.passes ?? [], passesOnly: true },
  ).graph;
  const shapes = valueShapes(chosen);
  for (const n of chosen.nodes.filter((n) => tunable(n, shapes.get(n.inputs[0]!)))) {
    const c = options.choose?.(n, shapes.get(n.inputs[0]!));
    if (c) choices.set(n.name, c);
  }
  // Every parity test runs on a planned arena (values share memory wherever lifetimes allow)
  // unless it asks otherwise.
  const { bundle } = compileGraph(
    { ...graph, constants: weights },
    {
      passes: options.passes ?? [],
      ...(options.maxBindingBytes ? { maxBindingBytes: options.maxBindingBytes } : {}),
      choices,
      ...(options.layout ? { layout: options.layout } : {}),
      ...(options.target ? { target: options.target } : {}),
      ...(options.planMemory === false ? { planMemory: false } : {}),
      ...(options.quickStart !== undefined ? { quickStart: options.quickStart } : {}),
      ...(options.f16 ? { weightFormat: "f16" as const } : {}),
      ...(options.shapeFamilies !== undefined ? { shapeFamilies: options.shapeFamilies } : {}),
    },
  );
  const { device } = await gpu();
  const model = await Model.create(bundle!, device);
  try {
    const inputs = randomInput(graph, batch, (options.seed ?? 1) + 7);
    const read = options.f16 ? new Map([...weights].map(([k, v]) => [k, roundToHalf(v)])) : weights;
    const want = interpret(graph, read, inputs, batch);
    let worst = 0;
    const compare = (got: Record<string, Tensor>, what: string): void => {
      for (const [name, ref] of want) {
        const out = got[name]!.data;
        expect(out.length, `${what}${name} length`).toBe(ref.length);
        const scale = Math.max(1, ...Array.from(ref, Math.abs));
        let err = 0;
        for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(out[i]! - ref[i]!));
        expect(
          err / scale,
          `${what}${name}: max error ${err} (scale ${scale})`,
        ).toBeLessThanOrEqual(options.tolerance ?? 1e-4);
        worst = Math.max(worst, err / scale);
      }
    };
    // A quick start's kernels give the first result, the bundle's own every one after `ready`.
    const quick = model.info.quickStart;
    if (options.quickStart === "always") expect(quick, "the model starts quick").toBe(true);
    compare(await model.run(inputs, { batch }), quick ? "quick start: " : "");
    if (quick) {
      await model.ready;
      expect(model.info.quickStart).toBe(false);
      compare(await model.run(inputs, { batch }), "");
    }
    return worst;
  } finally {
    model.dispose();
  }
}

export function net(input: string, body: string): string {
  return `network T {\n  input x: ${input}\n${body}\n}`;
}
