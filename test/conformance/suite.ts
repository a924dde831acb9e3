// ONNX's own conformance tests as cnnc cases. Debian's libonnx-testdata ships ONNX's backend
// test data (scripts/setup.sh installs it): for each test a model.onnx and test_data_set_*/
// input_K.pb, output_K.pb (TensorProtos). Each case runs as a user would: import (retrying with
// --freeze for the inputs the importer names as weights), build, then run on the CPU reference
// (what `cnnc run --cpu` runs: the bundle's IR) or on a WebGPU device, and compares with ONNX's
// expected outputs at |got - want| <= 1e-5 + 1e-3 |want|.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { compileGraph } from "../../compiler/compile.js";
import { CompileError } from "../../compiler/errors.js";
import { interpret } from "../../compiler/interp/index.js";
import { importOnnx, readTensor } from "../../compiler/onnx/import.js";
import type { OnnxConstant } from "../../compiler/ops/index.js";
import { bundleReference } from "../../compiler/bundle/index.js";
import { Model, parseBundle } from "../../runtime/index.js";

const { onnx } = onnxProto;

/** Where Debian puts ONNX's test data (ONNX_TESTDATA overrides). */
export const dataRoot = process.env.ONNX_TESTDATA ?? "/usr/share/libonnx-testdata/data";

export const suites = ["node", "pytorch-converted", "pytorch-operator"] as const;
export type Suite = (typeof suites)[number];

/**
 * The ONNX ops a CNN compiler for inference should take (the ops CNN exporters write, and the
 * ones shape computations are made of). A test is in scope when its model uses only these.
 */
export const scopeOps: ReadonlySet<string> = new Set([
  // convolution, pooling, normalisation, dense
  "Conv",
  "ConvTranspose",
  "MaxPool",
  "AveragePool",
  "GlobalAveragePool",
  "GlobalMaxPool",
  "BatchNormalization",
  "InstanceNormalization",
  "LayerNormalization",
  "LRN",
  "Gemm",
  "MatMul",
  // activations
  "Relu",
  "LeakyRelu",
  "PRelu",
  "Elu",
  "Selu",
  "Sigmoid",
  "Tanh",
  "Softplus",
  "Softsign",
  "HardSigmoid",
  "HardSwish",
  "Clip",
  "Mish",
  "Gelu",
  "Erf",
  "Softmax",
  "LogSoftmax",
  // elementwise
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Sum",
  "Max",
  "Min",
  "Neg",
  "Abs",
  "Sqrt",
  "Exp",
  "Log",
  "Reciprocal",
  "Pow",
  // data movement and shapes
  "Concat",
  "Split",
  "Slice",
  "Transpose",
  "Reshape",
  "Flatten",
  "Squeeze",
  "Unsqueeze",
  "Pad",
  "Resize",
  "Upsample",
  "DepthToSpace",
  "SpaceToDepth",
  "ReduceMean",
  "ReduceMax",
  "Dropout",
  "Identity",
  "Constant",
  "ConstantOfShape",
  "Shape",
  "Gather",
  "Cast",
]);

export interface Case {
  readonly suite: Suite;
  readonly name: string;
  readonly dir: string;
}

export type Verdict = "pass" | "wrong" | "refused" | "crash";

export interface Outcome {
  readonly verdict: Verdict;
  /** The refusal or crash message, or where the outputs differ. */
  readonly detail: string;
}

export function listCases(): Case[] {
  if (!existsSync(join(dataRoot, "node")))
    throw new Error(
      `ONNX's test data is not at ${dataRoot}: run scripts/setup.sh (it installs libonnx-testdata) or set ONNX_TESTDATA`,
    );
  return suites.flatMap((suite) =>
    readdirSync(join(dataRoot, suite))
      .filter((name) => existsSync(join(dataRoot, suite, name, "model.onnx")))
      .sort()
      .map((name) => ({ suite, name, dir: join(dataRoot, suite, name) })),
  );
}

export function modelOf(c: Case): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(readFileSync(join(c.dir, "model.onnx")));
}

export function opTypes(model: onnxProto.onnx.ModelProto): string[] {
  return [...new Set((model.graph?.node ?? []).map((n) => n.opType ?? ""))].sort();
}

export function inScope(model: onnxProto.onnx.ModelProto): boolean {
  return opTypes(model).every((op) => scopeOps.has(op));
}

interface Prepared {
  readonly bundle: Uint8Array;
  readonly batch: number;
  /** By the IR's input names. */
  readonly inputs: Record<string, Float32Array>;
  /** In the order of the graph's outputs. */
  readonly want: readonly OnnxConstant[];
  readonly outputNames: readonly string[];
}

function tensors(dir: string, kind: "input" | "output"): OnnxConstant[] {
  const set = join(dir, "test_data_set_0");
  const files = readdirSync(set)
    .filter((f) => f.startsWith(`${kind}_`) && f.endsWith(".pb"))
    .sort((a, b) => parseInt(a.slice(kind.length + 1)) - parseInt(b.slice(kind.length + 1)));
  return files.map((f) => readTensor(readFileSync(join(set, f)), f));
}

/** Import (freezing the inputs the importer names as weights, as a user would) and build. */
function prepare(c: Case): Prepared {
  const bytes = readFileSync(join(c.dir, "model.onnx"));
  const model = onnx.ModelProto.decode(bytes);
  const initialized = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  const inputNames = (model.graph?.input ?? [])
    .map((i) => i.name ?? "")
    .filter((n) => !initialized.has(n));
  const given = tensors(c.dir, "input");
  const byName = new Map(inputNames.map((n, k) => [n, given[k]!]));
  let graph;
  try {
    graph = importOnnx(bytes);
  } catch (e) {
    const weights = (e as { weightInputs?: readonly string[] }).weightInputs ?? [];
    if (!weights.length) throw e;
    const freeze = new Map(weights.map((n) => [n, byName.get(n)!]));
    graph = importOnnx(bytes, { freeze });
    for (const n of weights) byName.delete(n);
  }
  const data = [...byName.values()];
  const batch = data[0]?.dims[0] ?? 1;
  const inputs = Object.fromEntries(graph.inputs.map((i, k) => [i.name, data[k]!.data]));
  const { bundle } = compileGraph(graph);
  return {
    bundle: bundle!,
    batch,
    inputs,
    want: tensors(c.dir, "output"),
    outputNames: graph.outputs.map((o) => o.name),
  };
}

function compare(p: Prepared, got: (name: string) => ArrayLike<number> | undefined): Outcome {
  for (const [k, want] of p.want.entries()) {
    const name = p.outputNames[k];
    const out = name === undefined ? undefined : got(name);
    if (!out) return { verdict: "wrong", detail: `output ${k} is missing` };
    if (out.length !== want.data.length)
      return {
        verdict: "wrong",
        detail: `output '${name}' has ${out.length} values, ONNX ${want.data.length}`,
      };
    for (let i = 0; i < out.length; i++) {
      const w = want.data[i]!;
      const g = out[i]!;
      const ok =
        Math.abs(g - w) <= 1e-5 + 1e-3 * Math.abs(w) || (Number.isNaN(w) && Number.isNaN(g));
      if (!ok)
        return { verdict: "wrong", detail: `output '${name}'[${i}] is ${g}, ONNX says ${w}` };
    }
  }
  return { verdict: "pass", detail: "" };
}

function failure(e: unknown): Outcome {
  const message = (e as Error).message ?? String(e);
  return e instanceof CompileError
    ? { verdict: "refused", detail: message.split("\n").slice(0, 3).join(" ") }
    : { verdict: "crash", detail: (e as Error).stack ?? message };
}

/** The case on the CPU reference, through the bundle (what `cnnc run --cpu` runs). */
export function runCpu(c: Case): Outcome {
  try {
    const p = prepare(c);
    const { graph, weights } = bundleReference(parseBundle(p.bundle));
    const result = interpret(graph, weights, p.inputs, p.batch);
    return compare(p, (name) => result.get(name));
  } catch (e) {
    return failure(e);
  }
}

/** The case on a WebGPU device. */
export async function runGpu(c: Case, device: GPUDevice): Promise<Outcome> {
  let p: Prepared;
  try {
    p = prepare(c);
  } catch (e) {
    return failure(e);
  }
  let model: Model | undefined;
  try {
    model = await Model.create(p.bundle, device);
    const result = await model.run(p.inputs, { batch: p.batch });
    return compare(p, (name) => result[name]?.data);
  } catch (e) {
    return failure(e);
  } finally {
    model?.dispose();
  }
}

export interface Tally {
  inScope: number;
  pass: number;
  wrong: number;
  refused: number;
  crash: number;
}

export function tally(outcomes: readonly Outcome[]): Tally {
  const t: Tally = { inScope: outcomes.length, pass: 0, wrong: 0, refused: 0, crash: 0 };
  for (const o of outcomes) t[o.verdict]++;
  return t;
}

/** The committed pass list: `suite/name` per line. */
export const passListFile = new URL("./onnx-pass.txt", import.meta.url);
