// ONNX -> IR. Trained networks leave PyTorch and TensorFlow as ONNX; this reads them into cnnc's
// IR through the same graph builder lowering uses (so every shape is inferred and checked), with
// the weights under the layer paths. Node names become layer names (made legal identifiers).
// First the multi-node patterns (patterns.ts: MatMul + Add as dense, GELU's erf form,
// x * sigmoid(x) as silu), each checking every constant it assumes; then each node through the
// op registry's table of ONNX readers (`fromOnnx` of every entry). Anything unsupported is an
// error naming the op, the node and its inputs; nothing is skipped silently.
import onnxProto from "onnx-proto";
import { GraphBuilder } from "../ir/builder.js";
import type { Graph } from "../ir/graph.js";
import {
  opKinds,
  registry,
  type OpAttrs,
  type OpKind,
  ShapeError,
  type OnnxConstant,
  type OnnxReader,
  type Pair,
  type Quad,
} from "../ops/index.js";
import { matchPattern, patternOps } from "./patterns.js";
import { folders, shapeOfValue } from "./fold.js";
import { halfValue } from "../../runtime/half.js";
import { CompileError } from "../errors.js";
import { keywordWords } from "../../grammar/tokens.js";

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type LongLike = number | { toNumber(): number };

export class ImportError extends CompileError {
  constructor(
    message: string,
    /** Graph inputs the model uses as weights without giving their values (--freeze them). */
    readonly weightInputs: readonly string[] = [],
  ) {
    super(message);
  }
}

export interface ImportOptions {
  /** Reads a file beside the model (external tensor data); undefined when it is missing. */
  readonly readExternal?: (location: string) => Uint8Array | undefined;
  /**
   * Shapes for inputs with dynamic dimensions (`--input-shape x=1,3,320,320`), N included; N
   * stays open (cnnc runs any batch), every other dimension the model fixes must agree.
   */
  readonly inputShapes?: ReadonlyMap<string, readonly number[]>;
  /**
   * Shapes of the data a run will give (`cnnc run model.onnx --input x.npy`), "" for a model's
   * one input: where an input has dynamic dimensions and no `inputShapes` entry, a hint of its
   * rank fixes them (its other dimensions must agree).
   */
  readonly shapeHints?: ReadonlyMap<string, readonly number[]>;
  /** Graph inputs made constants (`cnnc import --freeze name=file.npy`). */
  readonly freeze?: ReadonlyMap<string, OnnxConstant>;
  /** A line for each kind of thing the import folded, removed or rewrote. */
  readonly onReport?: (line: string) => void;
}

const num = (v: LongLike | null | undefined): number =>
  v === null || v === undefined ? 0 : typeof v === "number" ? v : v.toNumber();

type Constant = OnnxConstant;

function tensorData(t: TensorProto, options: ImportOptions): Constant {
  const dims = (t.dims ?? []).map(num);
  const count = dims.reduce((a, b) => a * b, 1);
  let raw = t.rawData ?? undefined;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const key = (k: string) => t.externalData?.find((e) => e.key === k)?.value ?? undefined;
    const location = key("location") ?? "";
    const offset = Number(key("offset") ?? 0);
    const file = options.readExternal?.(location);
    if (!file)
      throw new ImportError(
        `tensor '${t.name}': its external data '${location}' is not a readable file below the model's folder`,
      );
    const length = key("length") === undefined ? file.length - offset : Number(key("length"));
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > file.length
    )
      throw new ImportError(
        `tensor '${t.name}': external data [${offset}, +${length}) lies outside '${location}' (${file.length} bytes)`,
      );
    raw = file.subarray(offset, offset + length);
  }
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0))
    throw new ImportError(`tensor '${t.name}': dims [${dims.join(", ")}] are not sizes`);
  const type = t.dataType ?? 0;
  const T = onnx.TensorProto.DataType;
  const width = (
    { [T.FLOAT]: 4, [T.DOUBLE]: 8, [T.INT32]: 4, [T.INT64]: 8, [T.FLOAT16]: 2 } as Record<
      number,
      number
    >
  )[type];
  if (!width)
    throw new ImportError(
      `tensor '${t.name}': data type ${T[type] ?? type} is not supported (float, float16, double, int32, int64 are)`,
    );
  // Exactly the data its shape needs, checked before anything is allocated: short data or
  // extra data is a malformed model, and dims must not make a small file a huge tensor.
  if (raw && raw.length) {
    if (raw.length !== count * width)
      throw new ImportError(
        `tensor '${t.name}': ${raw.length} bytes of data for ${count} values of ${width} bytes`,
      );
    const data = new Float32Array(count);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) {
      data[i] =
        type === T.FLOAT
          ? view.getFloat32(4 * i, true)
          : type === T.DOUBLE
            ? view.getFloat64(8 * i, true)
            : type === T.INT32
              ? view.getInt32(4 * i, true)
              : type === T.FLOAT16
                ? halfValue(view.getUint16(2 * i, true))
                : Number(view.getBigInt64(8 * i, true));
    }
    return { dims, data };
  }
  // The typed field of its data type (float16 values travel as int32 bit patterns).
  const field = (
    type === T.FLOAT
      ? t.floatData
      : type === T.DOUBLE
        ? t.doubleData
        : type === T.INT64
          ? t.int64Data
          : t.int32Data
  ) as LongLike[] | null | undefined;
  const values = field ?? [];
  if (values.length !== count)
    throw new ImportError(`tensor '${t.name}': ${values.length} values for a shape of ${count}`);
  const data = new Float32Array(count);
  values.forEach((v, i) => (data[i] = type === T.FLOAT16 ? halfValue(num(v)) : num(v)));
  return { dims, data };
}

// Words a name must not take: the language's keywords, `last`, and the boolean literals.
const keywords = [...keywordWords, "last", "true", "false"];

/** A legal, unique `.cnn` identifier for an ONNX name: `/layer1/conv.1` -> `layer1_conv_1`. */
class Names {
  private readonly used = new Set<string>(keywords);
  make(raw: string, fallback: string): string {
    let base = raw.replace(/[^A-Za-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
    if (!/^[A-Za-z_]/.test(base)) base = `${fallback}_${base}`.replace(/_+$/, "");
    if (!base) base = fallback;
    let name = base;
    for (let i = 2; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
}

/** ONNX float attributes are float32: 1e-5 arrives as 9.99999974e-6. Print the shortest
 * decimal that is the same float32 (`0.00001`), as the model's author wrote it. */
function shortestF32(x: number): number {
  for (let digits = 1; digits <= 9; digits++) {
    const y = Number(x.toPrecision(digits));
    if (Math.fround(y) === Math.fround(x)) return y;
  }
  return x;
}

/** ONNX op type -> its reader, from every registry entry's `fromOnnx` (each type once). */
const readers: ReadonlyMap<string, (r: OnnxReader) => void> = (() => {
  const table = new Map<string, (r: OnnxReader) => void>();
  for (const kind of opKinds) {
    for (const [type, read] of Object.entries(registry[kind].fromOnnx)) {
      if (table.has(type)) throw new Error(`internal: ONNX ${type} is read by two ops`);
      table.set(type, read);
    }
  }
  return table;
})();

/** The ONNX op types cnnc imports (single nodes; patterns.ts adds multi-node forms). */
export const importedOnnxOps: readonly string[] = [...readers.keys()].sort();

/** What reading one node needs of the import so far. */
interface ImportState {
  readonly opset: number;
  readonly constants: Map<string, Constant>;
  /** ONNX value -> IR value. */
  readonly value: Map<string, string>;
  /**
   * Graph inputs without initializers, with their declared dims: a reader asking for one as a
   * constant is refused (after reading on with zeros, so that every such input is named).
   */
  readonly dataInputs: ReadonlyMap<string, readonly number[]>;
  /**
   * IR values of shape [C, 1, L] standing for ONNX's [N, C, L] (1-D data: Conv1d, pooling,
   * BatchNorm1d). A node reading one sees its spatial attributes and its weight in 2-D form.
   */
  readonly lifted: Set<string>;
  /** Graph inputs some reader took as a value (their own problems are then reported). */
  readonly takenInputs: Set<string>;
  /** The graph inputs the current node's reader asked for as constants. */
  readonly weightInputs: Set<string>;
  /** Values that could not be computed (an earlier node failed), with why where known. */
  readonly poisoned: Map<string, string | undefined>;
  readonly builder: GraphBuilder;
  readonly names: Names;
  /** Weight data by IR weight name. */
  readonly data: Map<string, Float32Array>;
  /** The attributes the current node's reader asked for. */
  readonly asked: Set<string>;
  readonly options: ImportOptions;
  /** What the readers rewrote, for the import report. */
  readonly notes: string[];
}

/** A node that reads a value an earlier failure left uncomputed: already reported. */
class Unreachable extends Error {}

const decoder = new TextDecoder();

/** Attributes that list one value per spatial dimension (two per dimension for pads). */
const spatialAttributes = new Set([
  "kernel_shape",
  "strides",
  "dilations",
  "pads",
  "output_padding",
  "output_shape",
]);

/**
 * The reader an op's `fromOnnx` sees for one node. Its `emit` names the IR node after the ONNX
 * node and maps `output()` (the node's own output, or the last a pattern swallowed) to it.
 */
function nodeReader(node: NodeProto, state: ImportState, output: () => string): OnnxReader {
  const { opset, constants, value, builder, names, data } = state;

  const op = node.opType ?? "";
  const label = node.name || node.output?.[0] || op;
  const fail = (why: string): never => {
    throw new ImportError(
      `${op} node '${label}' (inputs ${(node.input ?? []).map((i) => `'${i}'`).join(", ")}): ${why}`,
    );
  };
  const A = onnx.AttributeProto.AttributeType;
  // An attribute the reader never asks for is one cnnc does not implement (or a misspelling,
  // which ONNX Runtime refuses): checkAttributes() refuses the node rather than ignore it.
  const asked = state.asked;
  asked.clear();
  const attr = (name: string, type?: onnxProto.onnx.AttributeProto.AttributeType) => {
    asked.add(name);
    const a = node.attribute?.find((x) => x.name === name);
    if (a && type !== undefined && a.type !== type)
      fail(
        `attribute ${name} is of type ${A[a.type ?? 0] ?? a.type}, ONNX defines it as ${A[type]}`,
      );
    return a;
  };
  // A node over 1-D data computes as 2-D with H = 1: its 1-D windows become 1 x L.
  const lifted = state.lifted.has(value.get(node.input?.[0] ?? "") ?? "");
  const attrInts = (name: string, d: number[]): number[] => {
    const a = attr(name, A.INTS);
    const v = a?.ints?.length ? a.ints.map(num) : d;
    if (!lifted || !a?.ints?.length || !spatialAttributes.has(name)) return v;
    if (name === "pads") return v.length === 2 ? [0, v[0]!, 0, v[1]!] : v;
    const h = name === "output_padding" ? 0 : 1;
    return v.length === 1 ? [h, v[0]!] : v;
  };
  const finite = (name: string, f: number): number => {
    if (!Number.isFinite(f)) fail(`attribute ${name} is ${f}`);
    return shortestF32(f);
  };
  const attrFloat = (name: string, d: number): number => {
    const f = attr(name, A.FLOAT)?.f;
    return f === undefined || f === null ? d : finite(name, f);
  };
  const attrStr = (name: string, d: string): string => {
    const s = attr(name, A.STRING)?.s;
    return s ? decoder.decode(s) : d;
  };
  const inputName = (i: number): string => node.input?.[i] ?? "";
  const out = node.output?.[0] ?? "";
  const emitNode = <K extends OpKind>(
    onnxOutput: string,
    kind: K,
    inputs: readonly string[],
    attrs: OpAttrs[K],
    weights: readonly Float32Array[],
    onnxRank?: number,
  ): string => {
    const name = names.make(label, kind);
    try {
      const n = builder.node(kind, name, inputs, attrs);
      n.weights.forEach((w, i) => {
        const given = weights[i];
        const want = builder.weightShape(w);
        const count = want.reduce((a, b) => a * b, 1);
        if (!given || given.length !== count)
          fail(`weight '${w}' needs ${count} values, the model gives ${given?.length ?? 0}`);
        data.set(w, given!);
      });
    } catch (e) {
      if (e instanceof ShapeError) fail(e.message);
      throw e;
    }
    value.set(onnxOutput, name);
    const lifts =
      onnxRank === undefined
        ? inputs.some((v) => state.lifted.has(v)) && builder.shapeOf(name).length === 3
        : onnxRank === 3;
    if (lifts) state.lifted.add(name);
    return name;
  };
  const reader: OnnxReader = {
    opType: op,
    opset,
    fail,
    hasAttr: (name) => attr(name) !== undefined,
    attrInts,
    attrInt: (name, d) => {
      const a = attr(name, A.INT);
      return a ? num(a.i) : d;
    },
    attrFloat,
    attrFloats: (name) => (attr(name, A.FLOATS)?.floats ?? []).map((f) => finite(name, f)),
    attrStr,
    attrTensor(name) {
      const t = attr(name, A.TENSOR)?.t;
      if (!t) return undefined;
      try {
        return tensorData(t, state.options);
      } catch (e) {
        if (e instanceof ImportError) fail(`attribute ${name}: ${e.message}`);
        throw e;
      }
    },
    pair(name, d) {
      const v = attrInts(name, [d, d]);
      if (v.length !== 2) fail(`${name} must have 2 values (2-D only)`);
      return [v[0]!, v[1]!];
    },
    // Padding from pads / auto_pad, as [top, left, bottom, right].
    padding(k: Pair, s: Pair, d: Pair, x: string): Quad {
      const auto = attrStr("auto_pad", "NOTSET");
      if (auto === "NOTSET") {
        const p = attrInts("pads", [0, 0, 0, 0]);
        if (p.length !== 4) fail(`pads must have 4 values (2-D only), got ${p.length}`);
        if (p.some((v) => v < 0)) fail(`negative pads are not supported: [${p.join(", ")}]`);
        return [p[0]!, p[1]!, p[2]!, p[3]!];
      }
      if (auto === "VALID") return [0, 0, 0, 0];
      if (auto !== "SAME_UPPER" && auto !== "SAME_LOWER")
        fail(`auto_pad '${auto}' is not an ONNX mode`);
      const [, h, w] = builder.shapeOf(x);
      const side = (size: number, i: 0 | 1): [number, number] => {
        const o = Math.ceil(size / s[i]);
        const total = Math.max((o - 1) * s[i] + d[i] * (k[i] - 1) + 1 - size, 0);
        const small = Math.floor(total / 2);
        return auto === "SAME_LOWER" ? [total - small, small] : [small, total - small];
      };
      const [t, b] = side(h ?? 1, 0);
      const [l, r] = side(w ?? 1, 1);
      return [t, l, b, r];
    },
    hasInput: (i) => !!node.input?.[i],
    inputCount: node.input?.length ?? 0,
    isConstant: (i) => constants.has(inputName(i)),
    value(i) {
      const name = inputName(i);
      if (state.poisoned.has(name)) {
        const why = state.poisoned.get(name);
        if (why !== undefined) state.takenInputs.add(name);
        if (why !== undefined) throw new ImportError(why);
        throw new Unreachable();
      }
      const v = value.get(name);
      if (v === undefined)
        fail(
          constants.has(name)
            ? `input '${name}' is a constant; cnnc takes a computed value here`
            : `input '${name}' is not computed by any earlier node`,
        );
      return v!;
    },
    constant(i) {
      const name = inputName(i);
      const declared = state.dataInputs.get(name);
      if (declared) {
        state.weightInputs.add(name);
        return { dims: declared, data: new Float32Array(declared.reduce((a, b) => a * b, 1)) };
      }
      if (state.poisoned.has(name)) throw new Unreachable();
      const c = constants.get(name);
      if (!c) fail(`input '${name}' must be a constant (an initializer)`);
      if (c!.taint) fail(`input '${name}' depends on the batch size, which cnnc leaves open`);
      // A 1-D convolution's weight [F, C, K] as [F, C, 1, K].
      if (lifted && i === 1 && (op === "Conv" || op === "ConvTranspose") && c!.dims.length === 3)
        return { ...c!, dims: [c!.dims[0]!, c!.dims[1]!, 1, c!.dims[2]!] };
      return c!;
    },
    batchShape(i) {
      const name = inputName(i);
      if (state.dataInputs.has(name)) {
        state.weightInputs.add(name);
        throw new Unreachable();
      }
      const c = constants.get(name);
      if (!c) fail(`input '${name}' must be a constant (an initializer)`);
      const t = c!.taint;
      if (t && ((t[0] !== 1 && t[0] !== 0) || t.subarray(1).some((v) => v > 0)))
        fail(`the target shape depends on the batch size other than as its first dimension`);
      return Array.from(c!.data, (v, k) => (k === 0 && t?.[0] === 1 ? 0 : v));
    },
    // As ONNX has it (without N): a lifted [C, 1, L] is [C, L].
    shapeOf: (v) => {
      const shape = builder.shapeOf(v);
      return state.lifted.has(v) ? [shape[0]!, ...shape.slice(2)] : shape;
    },
    emit: (kind, inputs, attrs, weights = [], onnxRank) =>
      emitNode(output(), kind, inputs, attrs, weights, onnxRank),
    emitOutput: (k, kind, inputs, attrs) =>
      emitNode(node.output?.[k] ?? "", kind, inputs, attrs, []),
    outputCount: node.output?.length ?? 0,
    hasOutput: (k) => !!node.output?.[k],
    alias() {
      value.set(out, reader.value(0));
    },
    note: (what) => void state.notes.push(what),
  };
  return reader;
}

/** Attributes a reader may leave unread: they do not change what the op computes. */
const harmlessAttributes: Readonly<Record<string, readonly string[]>> = {
  "*": ["doc_string"],
  BatchNormalization: ["momentum"], // (training only)
  // (training only: at inference Dropout is the identity; is_test: opsets before 7)
  Dropout: ["seed", "ratio", "is_test"],
  MaxPool: ["storage_order"], // (the Indices output only, which cnnc does not give)
  // (cubic and tf_crop_and_resize only, modes the reader refuses)
  Resize: ["cubic_coeff_a", "exclude_outside", "extrapolation_value"],
};

function harmless(op: string, attribute: string): boolean {
  return (
    harmlessAttributes["*"]!.includes(attribute) ||
    (harmlessAttributes[op]?.includes(attribute) ?? false)
  );
}

/** ONNX's opsets cnnc reads: 6 (what PyTorch 0.4 wrote) to 21; every reader handles the
 * versions of its op (an attribute a version adds or drops is read or refused, never ignored). */
export const onnxOpsets = { min: 6, max: 21 } as const;

/** A serialized TensorProto (ONNX's test data `.pb` files, --freeze values) as a constant. */
export function readTensor(bytes: Uint8Array, what: string): OnnxConstant {
  let t: TensorProto;
  try {
    t = onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new ImportError(`${what}: not an ONNX tensor (${(e as Error).message})`);
  }
  return tensorData(t, {});
}

/** The names of a model's graph inputs that have no initializer (its data inputs); [] if the
 * bytes are not a model (importOnnx says why). */
export function onnxDataInputs(bytes: Uint8Array): string[] {
  try {
    const g = onnx.ModelProto.decode(bytes).graph;
    const init = new Set((g?.initializer ?? []).map((t) => t.name));
    return (g?.input ?? []).map((i) => i.name ?? "").filter((n) => !init.has(n));
  } catch {
    return [];
  }
}

/** Counts by key, printed `Constant 20, Shape 4`. */
function tally(keys: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} ${n}`).join(", ");
}

export function importOnnx(bytes: Uint8Array, options: ImportOptions = {}): Graph {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ImportError(`not an ONNX model (${(e as Error).message})`);
  }
  const g = model.graph;
  if (!g || !g.node?.length) throw new ImportError("not an ONNX model (no graph)");
  const opset = num(model.opsetImport?.find((o) => !o.domain || o.domain === "ai.onnx")?.version);
  if (opset < onnxOpsets.min || opset > onnxOpsets.max)
    throw new ImportError(
      `opset ${opset} is not supported (${onnxOpsets.min} to ${onnxOpsets.max} are)`,
    );

  const constants = new Map<string, Constant>();
  for (const t of g.initializer ?? []) constants.set(t.name ?? "", tensorData(t, options));
  const names = new Names();
  const builder = new GraphBuilder(names.make(g.name || "Imported", "Imported"));
  const data = new Map<string, Float32Array>();
  const value = new Map<string, string>(); // ONNX value -> IR value
  const poisoned = new Map<string, string | undefined>();
  const dataInputs = new Map<string, readonly number[]>();
  const lifted = new Set<string>();
  const frozen = options.freeze ?? new Map<string, Constant>();
  for (const [flag, names] of [
    ["--freeze", frozen.keys()],
    ["--input-shape", options.inputShapes?.keys() ?? []],
  ] as const)
    for (const name of names)
      if (!(g.input ?? []).some((i) => i.name === name))
        throw new ImportError(
          `${flag} ${name}: the model has no input '${name}' (its inputs: ${(g.input ?? []).map((i) => i.name).join(", ")})`,
        );

  for (const input of g.input ?? []) {
    const onnxName = input.name ?? "";
    // An input with an initializer of its name is a constant with a default (ONNX's rule);
    // frozen inputs are constants by the user's word.
    if (constants.has(onnxName)) continue;
    if (frozen.has(onnxName)) {
      constants.set(onnxName, frozen.get(onnxName)!);
      continue;
    }
    const declared = (input.type?.tensorType?.shape?.dim ?? []).map((d) =>
      Math.min(Math.max(num(d.dimValue), 1), 2 ** 16),
    );
    dataInputs.set(onnxName, declared);
    const problem = (why: string) => poisoned.set(onnxName, `input '${onnxName}': ${why}`);
    const elem = input.type?.tensorType?.elemType ?? 0;
    if (elem !== onnx.TensorProto.DataType.FLOAT) {
      problem(`it is ${onnx.TensorProto.DataType[elem] ?? elem}; cnnc takes float inputs`);
      continue;
    }
    const declaredDims = (input.type?.tensorType?.shape?.dim ?? []).map((d) => ({
      value: num(d.dimValue),
      param: d.dimParam ?? "?",
    }));
    const hint = options.shapeHints?.get(onnxName) ?? options.shapeHints?.get("");
    const dynamicDims = declaredDims.slice(1).some((d) => !(d.value > 0));
    const given =
      options.inputShapes?.get(onnxName) ??
      (dynamicDims && hint?.length === declaredDims.length ? hint : undefined);
    if (given) {
      const fixedDiffer = declaredDims.some((d, k) => k > 0 && d.value > 0 && given[k] !== d.value);
      if (given.length !== declaredDims.length || fixedDiffer) {
        problem(
          `${options.inputShapes?.has(onnxName) ? "--input-shape" : "the --input data's shape"} ${given.join(",")} does not fit the model's [${declaredDims.map((d) => (d.value > 0 ? d.value : d.param)).join(", ")}]`,
        );
        continue;
      }
    }
    const dims = declaredDims.map((d, k) => ({ value: given?.[k] ?? d.value, param: d.param }));
    const dynamic = dims.slice(1).findIndex((d) => !(d.value > 0));
    if (dynamic >= 0) {
      problem(
        `dimension ${dynamic + 1} is dynamic ('${dims[dynamic + 1]!.param}'); give the shape to compile for with --input-shape ${onnxName}=${dims.map((d) => (d.value > 0 ? d.value : "?")).join(",")}`,
      );
      continue;
    }
    const shape = dims.slice(1).map((d) => d.value);
    if (shape.length < 1 || shape.length > 3) {
      problem(
        `shape [N, ${shape.join(", ")}] is not [N, C, H, W], [N, C, L] or [N, F] (cnnc computes 1-D and 2-D data)`,
      );
      continue;
    }
    const name = names.make(onnxName || "x", "x");
    // [N, C, L] computes as [N, C, 1, L]: the same bytes.
    builder.input(name, shape.length === 2 ? [shape[0]!, 1, shape[1]!] : shape);
    if (shape.length === 2) lifted.add(name);
    value.set(onnxName, name);
  }

  // Who reads each value: patterns only fuse values nothing else reads.
  const readersOf = new Map<string, NodeProto[]>();
  for (const n of g.node)
    for (const i of n.input ?? []) if (i) readersOf.set(i, [...(readersOf.get(i) ?? []), n]);
  const consumed = new Set<NodeProto>();
  const state: ImportState = {
    opset,
    constants,
    value,
    dataInputs,
    poisoned,
    builder,
    names,
    data,
    asked: new Set(),
    weightInputs: new Set(),
    takenInputs: new Set(),
    lifted,
    options,
    notes: [],
  };
  const problems: string[] = [];
  // Every node of an op type nothing reads (no reader, no folding, no pattern), listed at once,
  // reachable from the inputs or not.
  const unsupported = new Map<string, string[]>(); // op type -> node names
  for (const node of g.node) {
    const op = node.opType ?? "";
    if (node.domain && node.domain !== "ai.onnx") continue; // (refused with its domain)
    if (readers.has(op) || folders[op] || patternOps.has(op)) continue;
    unsupported.set(op, [...(unsupported.get(op) ?? []), node.name || node.output?.[0] || op]);
  }
  const weightInputs = new Set<string>();
  const folded: string[] = [];
  const removed: string[] = [];
  const fused: string[] = [];

  for (const node of g.node) {
    if (consumed.has(node)) continue;
    const op = node.opType ?? "";
    // The IR node computing this ONNX node's output; a pattern names a later node's output.
    let output = node.output?.[0] ?? "";
    const reader = nodeReader(node, state, () => output);
    state.weightInputs.clear();
    try {
      if (node.domain && node.domain !== "ai.onnx")
        reader.fail(`ops of the domain '${node.domain}' are not supported (only ONNX's own)`);
      const inputs = node.input ?? [];
      // A node reading a value an earlier failure left uncomputed is not reported again. (A
      // graph input's own problem is said where a reader takes it as a value: a reader may
      // take it as a weight instead, and then name it for --freeze.)
      for (const i of inputs) {
        if (!poisoned.has(i)) continue;
        const why = poisoned.get(i);
        if (why === undefined) throw new Unreachable();
      }
      // Constant folding: every given input known (or a Shape of a computed value).
      const fold = folders[op];
      const known = (i: string) => !i || constants.has(i);
      if (fold && op === "Shape" && value.has(inputs[0] ?? "")) {
        // ONNX's shape (a lifted [C, 1, L] is [C, L]), as every reader sees it
        constants.set(output, shapeOfValue(reader, reader.shapeOf(value.get(inputs[0]!)!)));
        folded.push(op);
      } else if (fold && inputs.every(known) && !inputs.some((i) => dataInputs.has(i))) {
        const results = fold(
          reader,
          inputs.map((i) => (i ? constants.get(i) : undefined)),
        );
        (node.output ?? []).forEach((o, k) => {
          if (o && results[k]) constants.set(o, results[k]!);
        });
        folded.push(op);
      } else {
        const pattern = matchPattern(node, { readersOf, constants, fail: reader.fail });
        if (pattern) {
          pattern.consumed.forEach((n) => consumed.add(n));
          output = pattern.output;
          pattern.emit(reader);
          fused.push(
            `${[node, ...pattern.consumed].map((n) => n.opType).join("+")} as ${pattern.op}`,
          );
          continue;
        }
        const read = readers.get(op);
        if (!read) {
          if (patternOps.has(op)) reader.fail("supported only inside GELU's erf form");
          if (folders[op])
            reader.fail("supported only on constants (which fold), not on computed values");
          throw new Unreachable(); // (listed above)
        }
        read(reader);
        const passed = value.get(output);
        if (passed !== undefined && passed === value.get(node.input?.[0] ?? "")) removed.push(op);
      }
      const ignored = (node.attribute ?? []).filter(
        (a) => !state.asked.has(a.name ?? "") && !harmless(op, a.name ?? ""),
      );
      if (ignored.length)
        reader.fail(
          `attribute ${ignored.map((a) => `'${a.name}'`).join(", ")} is not supported${state.asked.size ? ` (cnnc reads ${[...state.asked].join(", ")})` : ""}`,
        );
      if (state.weightInputs.size) throw new Unreachable();
    } catch (e) {
      // Weights given as inputs: the node's other complaints would be about the stand-in zeros.
      if (state.weightInputs.size) state.weightInputs.forEach((w) => weightInputs.add(w));
      else if (e instanceof ImportError) problems.push(e.message);
      else if (!(e instanceof Unreachable)) throw e;
      // Its outputs are not computed; nodes reading them are skipped, not reported again.
      for (const o of node.output ?? []) if (o) poisoned.set(o, undefined);
      for (const n of consumed) for (const o of n.output ?? []) if (o) poisoned.set(o, undefined);
    }
  }
  // A data input's own problem (a dynamic or unsupported shape) once, where a reader took it as
  // a value, before what the nodes said.
  const inputProblems = [...poisoned]
    .filter(([name, why]) => why !== undefined && state.takenInputs.has(name))
    .map(([, why]) => why!);
  const lines = [...new Set([...inputProblems, ...problems])];
  for (const [op, nodes] of unsupported)
    lines.push(
      `${op} is not supported (${nodes.length} node${nodes.length === 1 ? "" : "s"}: ${nodes
        .slice(0, 5)
        .map((n) => `'${n}'`)
        .join(", ")}${nodes.length > 5 ? ", ..." : ""})`,
    );
  if (weightInputs.size)
    lines.push(
      `graph inputs used as weights have no initializer: ${[...weightInputs].map((n) => `'${n}'`).join(", ")}; give their values with --freeze ${[...weightInputs].map((n) => `${n}=FILE.npy`).join(" --freeze ")}`,
    );
  if (lines.length)
    throw new ImportError(
      lines.length === 1 ? lines[0]! : `${lines.length} problems:\n  ${lines.join("\n  ")}`,
      [...weightInputs],
    );
  if (!g.output?.length) throw new ImportError("the graph has no outputs");
  for (const o of g.output ?? []) {
    const v = value.get(o.name ?? "");
    if (v === undefined)
      throw new ImportError(
        constants.has(o.name ?? "")
          ? `output '${o.name}' is a constant; cnnc computes outputs from the inputs`
          : `output '${o.name}' is not computed by the graph`,
      );
    // Keep the output's own name when it is the layer's; else a fresh legal one.
    const legal = (o.name ?? "").replace(/[^A-Za-z0-9_]+/g, "_");
    // 1-D data leaves as ONNX has it: [N, C, L], not the [N, C, 1, L] it computes as
    const s = builder.shapeOf(v);
    const declared = lifted.has(v) ? [s[0]!, ...s.slice(2)] : undefined;
    builder.output(legal === v ? v : names.make(o.name ?? "y", "y"), v, declared);
  }
  const report = options.onReport;
  if (report) {
    if (folded.length) report(`folded ${folded.length} nodes into constants (${tally(folded)})`);
    if (removed.length) report(`removed ${removed.length} identities (${tally(removed)})`);
    if (fused.length) report(`fused ${fused.length} patterns (${tally(fused)})`);
    if (state.notes.length) report(`rewrote ${state.notes.length} nodes (${tally(state.notes)})`);
  }
  return { ...builder.build(), constants: data };
}
