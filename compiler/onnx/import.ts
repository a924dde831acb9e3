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
  ShapeError,
  type OnnxConstant,
  type OnnxReader,
  type Pair,
  type Quad,
} from "../ops/index.js";
import { matchPattern } from "./patterns.js";
import { halfToFloat } from "../weights/half.js";
import { CompileError } from "../errors.js";

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type LongLike = number | { toNumber(): number };

export class ImportError extends CompileError {}

export interface ImportOptions {
  /** Reads a file beside the model (external tensor data); undefined when it is missing. */
  readonly readExternal?: (location: string) => Uint8Array | undefined;
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
                ? halfToFloat(view.getUint16(2 * i, true))
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
  values.forEach((v, i) => (data[i] = type === T.FLOAT16 ? halfToFloat(num(v)) : num(v)));
  return { dims, data };
}

const keywords = [
  "network",
  "block",
  "input",
  "output",
  "let",
  "repeat",
  "branch",
  "concat",
  "add",
  "mul",
  "identity",
  "use",
  "last",
  "true",
  "false",
];

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
  readonly constants: ReadonlyMap<string, Constant>;
  /** ONNX value -> IR value. */
  readonly value: Map<string, string>;
  readonly builder: GraphBuilder;
  readonly names: Names;
  /** Weight data by IR weight name. */
  readonly data: Map<string, Float32Array>;
  /** The attributes the current node's reader asked for. */
  readonly asked: Set<string>;
}

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
  const attrInts = (name: string, d: number[]): number[] => {
    const a = attr(name, A.INTS);
    return a?.ints?.length ? a.ints.map(num) : d;
  };
  const attrFloat = (name: string, d: number): number => {
    const f = attr(name, A.FLOAT)?.f;
    if (f === undefined || f === null) return d;
    if (!Number.isFinite(f)) fail(`attribute ${name} is ${f}`);
    return shortestF32(f);
  };
  const attrStr = (name: string, d: string): string => {
    const s = attr(name, A.STRING)?.s;
    return s ? new TextDecoder().decode(s) : d;
  };
  const out = node.output?.[0] ?? "";
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
    attrStr,
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
    value(i) {
      const v = value.get(node.input?.[i] ?? "");
      if (v === undefined)
        fail(
          `input '${node.input?.[i]}' is not a computed value (cnnc takes weights only where the op has them)`,
        );
      return v!;
    },
    constant(i) {
      const c = constants.get(node.input?.[i] ?? "");
      if (!c) fail(`input '${node.input?.[i]}' must be a constant (an initializer)`);
      return c!;
    },
    shapeOf: (v) => builder.shapeOf(v),
    emit(kind, inputs, attrs, weights = []) {
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
      value.set(output(), name);
    },
    alias() {
      value.set(out, reader.value(0));
    },
  };
  return reader;
}

/** Attributes a reader may leave unread: they do not change what the op computes. */
const harmlessAttributes: Readonly<Record<string, readonly string[]>> = {
  "*": ["doc_string"],
  BatchNormalization: ["momentum"], // (training only)
  Dropout: ["seed", "ratio"], // (training only: at inference Dropout is the identity)
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
  if (opset < 11 || opset > 21)
    throw new ImportError(`opset ${opset} is not supported (11 to 21 are)`);

  const constants = new Map<string, Constant>();
  for (const t of g.initializer ?? []) constants.set(t.name ?? "", tensorData(t, options));
  const names = new Names();
  const builder = new GraphBuilder(names.make(g.name || "Imported", "Imported"));
  const data = new Map<string, Float32Array>();
  const value = new Map<string, string>(); // ONNX value -> IR value

  for (const input of g.input ?? []) {
    if (constants.has(input.name ?? "")) continue;
    const elem = input.type?.tensorType?.elemType ?? 0;
    if (elem !== onnx.TensorProto.DataType.FLOAT)
      throw new ImportError(
        `input '${input.name}' is ${onnx.TensorProto.DataType[elem] ?? elem}; cnnc takes float inputs`,
      );
    const dims = input.type?.tensorType?.shape?.dim ?? [];
    const shape = dims.slice(1).map((d, i) => {
      const v = num(d.dimValue);
      if (!(v > 0)) {
        throw new ImportError(
          `input '${input.name}': dimension ${i + 1} is dynamic ('${d.dimParam ?? "?"}'); cnnc needs fixed C, H, W`,
        );
      }
      return v;
    });
    if (shape.length !== 3 && shape.length !== 1) {
      throw new ImportError(
        `input '${input.name}': shape [N, ${shape.join(", ")}] is neither [N, C, H, W] nor [N, F]`,
      );
    }
    const name = names.make(input.name ?? "x", "x");
    builder.input(name, shape);
    value.set(input.name ?? "", name);
  }

  // Who reads each value: patterns only fuse values nothing else reads.
  const readersOf = new Map<string, NodeProto[]>();
  for (const n of g.node)
    for (const i of n.input ?? []) if (i) readersOf.set(i, [...(readersOf.get(i) ?? []), n]);
  const consumed = new Set<NodeProto>();
  const state: ImportState = { opset, constants, value, builder, names, data, asked: new Set() };

  for (const node of g.node) {
    if (consumed.has(node)) continue;
    // The IR node computing this ONNX node's output; a pattern names a later node's output.
    let output = node.output?.[0] ?? "";
    const reader = nodeReader(node, state, () => output);
    const pattern = matchPattern(node, { readersOf, constants, fail: reader.fail });
    if (pattern) {
      pattern.consumed.forEach((n) => consumed.add(n));
      output = pattern.output;
      reader.emit(pattern.op, [reader.value(0)], pattern.attrs, pattern.weights);
      continue;
    }
    if (node.domain && node.domain !== "ai.onnx")
      reader.fail(`ops of the domain '${node.domain}' are not supported (only ONNX's own)`);
    const read = readers.get(node.opType ?? "");
    if (!read) reader.fail("this op is not supported");
    read!(reader);
    const ignored = (node.attribute ?? []).filter(
      (a) => !state.asked.has(a.name ?? "") && !harmless(node.opType ?? "", a.name ?? ""),
    );
    if (ignored.length)
      reader.fail(
        `attribute ${ignored.map((a) => `'${a.name}'`).join(", ")} is not supported${state.asked.size ? ` (cnnc reads ${[...state.asked].join(", ")})` : ""}`,
      );
  }
  if (!g.output?.length) throw new ImportError("the graph has no outputs");
  for (const o of g.output ?? []) {
    const v = value.get(o.name ?? "");
    if (v === undefined) throw new ImportError(`output '${o.name}' is not computed by the graph`);
    // Keep the output's own name when it is the layer's; else a fresh legal one.
    const legal = (o.name ?? "").replace(/[^A-Za-z0-9_]+/g, "_");
    builder.output(legal === v ? v : names.make(o.name ?? "y", "y"), v);
  }
  return { ...builder.build(), constants: data };
}
