// ONNX -> IR. Trained networks leave PyTorch and TensorFlow as ONNX; this reads them into cnnc's
// IR through the same graph builder lowering uses (so every shape is inferred and checked), with
// the weights under the layer paths. Node names become layer names (made legal identifiers).
// A few multi-node patterns are recognised: MatMul (+ Add) as dense, the erf form of GELU,
// x * sigmoid(x) as silu, Clip(0, 6) as relu6. Anything else unsupported is an error naming
// the op, the node and its inputs; nothing is skipped silently.
import onnxProto from "onnx-proto";
import { GraphBuilder } from "../ir/builder.js";
import type { Graph } from "../ir/graph.js";
import { ShapeError, type OpAttrs, type OpKind, type Pair, type Quad } from "../ir/ops.js";

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
type LongLike = number | { toNumber(): number };

export class ImportError extends Error {}

export interface ImportOptions {
  /** Reads a file beside the model (external tensor data); undefined when it is missing. */
  readonly readExternal?: (location: string) => Uint8Array | undefined;
}

const num = (v: LongLike | null | undefined): number =>
  v === null || v === undefined ? 0 : typeof v === "number" ? v : v.toNumber();

interface Constant {
  readonly dims: number[];
  readonly data: Float32Array;
}

function tensorData(t: TensorProto, options: ImportOptions): Constant {
  const dims = (t.dims ?? []).map(num);
  const count = dims.reduce((a, b) => a * b, 1);
  let raw = t.rawData ?? undefined;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const location = t.externalData?.find((e) => e.key === "location")?.value ?? "";
    const offset = Number(t.externalData?.find((e) => e.key === "offset")?.value ?? 0);
    const file = options.readExternal?.(location);
    if (!file)
      throw new ImportError(`tensor '${t.name}': its external data file '${location}' is missing`);
    raw = file.subarray(offset);
  }
  const data = new Float32Array(count);
  const type = t.dataType;
  const T = onnx.TensorProto.DataType;
  if (raw && raw.length) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const width =
      type === T.FLOAT ? 4 : type === T.INT64 || type === T.DOUBLE ? 8 : type === T.INT32 ? 4 : 0;
    if (!width) throw new ImportError(`tensor '${t.name}': data type ${type} is not supported`);
    if (raw.length < count * width)
      throw new ImportError(`tensor '${t.name}': data is shorter than its shape`);
    for (let i = 0; i < count; i++) {
      data[i] =
        type === T.FLOAT
          ? view.getFloat32(4 * i, true)
          : type === T.DOUBLE
            ? view.getFloat64(8 * i, true)
            : type === T.INT32
              ? view.getInt32(4 * i, true)
              : Number(view.getBigInt64(8 * i, true));
    }
  } else {
    // protobufjs decodes an absent repeated field as [], so take the first that holds data.
    const fields = [t.floatData, t.int64Data, t.int32Data, t.doubleData] as (
      LongLike[] | null | undefined
    )[];
    const values = fields.find((f) => f && f.length > 0) ?? [];
    values.forEach((v, i) => (data[i] = num(v)));
  }
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

const none = { act: "none", alpha: 0 } as const;

/** ONNX float attributes are float32: 1e-5 arrives as 9.99999974e-6. Print the shortest
 * decimal that is the same float32 (`0.00001`), as the model's author wrote it. */
function shortestF32(x: number): number {
  for (let digits = 1; digits <= 9; digits++) {
    const y = Number(x.toPrecision(digits));
    if (Math.fround(y) === Math.fround(x)) return y;
  }
  return x;
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

  // How many nodes read each value: patterns only fuse values nothing else reads.
  const readers = new Map<string, NodeProto[]>();
  for (const n of g.node)
    for (const i of n.input ?? []) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const consumed = new Set<NodeProto>();

  for (const node of g.node) {
    if (consumed.has(node)) continue;
    const op = node.opType ?? "";
    const label = node.name || node.output?.[0] || op;
    const fail = (why: string): never => {
      throw new ImportError(
        `${op} node '${label}' (inputs ${(node.input ?? []).map((i) => `'${i}'`).join(", ")}): ${why}`,
      );
    };
    const attr = (name: string) => node.attribute?.find((a) => a.name === name);
    const attrInts = (name: string, d: number[]): number[] => {
      const a = attr(name);
      return a?.ints?.length ? a.ints.map(num) : d;
    };
    const attrInt = (name: string, d: number): number => (attr(name) ? num(attr(name)!.i) : d);
    const attrFloat = (name: string, d: number): number => {
      const f = attr(name)?.f;
      return f === undefined || f === null ? d : shortestF32(f);
    };
    const attrStr = (name: string, d: string): string => {
      const s = attr(name)?.s;
      return s ? new TextDecoder().decode(s) : d;
    };
    const inputValue = (i: number): string => {
      const v = value.get(node.input?.[i] ?? "");
      if (v === undefined)
        fail(
          `input '${node.input?.[i]}' is not a computed value (cnnc takes weights only where the op has them)`,
        );
      return v!;
    };
    const constant = (i: number): Constant => {
      const c = constants.get(node.input?.[i] ?? "");
      if (!c) fail(`input '${node.input?.[i]}' must be a constant (an initializer)`);
      return c!;
    };
    const out = node.output?.[0] ?? "";
    const emit = <K extends OpKind>(
      kind: K,
      inputs: string[],
      attrs: OpAttrs[K],
      weights: Float32Array[] = [],
      outName = out,
    ): void => {
      const name = names.make(label, kind);
      try {
        const n = builder.node(kind, name, inputs, attrs);
        n.weights.forEach((w, i) => data.set(w, weights[i]!));
      } catch (e) {
        if (e instanceof ShapeError) fail(e.message);
        throw e;
      }
      value.set(outName, name);
    };
    const alias = (): void => {
      value.set(out, inputValue(0));
    };
    const shapeOf = (v: string) => builder.shapeOf(v);
    // Padding from pads / auto_pad, as [top, left, bottom, right].
    const padding = (k: Pair, s: Pair, d: Pair, x: string): Quad => {
      const auto = attrStr("auto_pad", "NOTSET");
      if (auto === "NOTSET") {
        const p = attrInts("pads", [0, 0, 0, 0]);
        return [p[0]!, p[1]!, p[2]!, p[3]!];
      }
      if (auto === "VALID") return [0, 0, 0, 0];
      const [, h, w] = shapeOf(x);
      const side = (size: number, i: 0 | 1): [number, number] => {
        const o = Math.ceil(size / s[i]);
        const total = Math.max((o - 1) * s[i] + d[i] * (k[i] - 1) + 1 - size, 0);
        const small = Math.floor(total / 2);
        return auto === "SAME_LOWER" ? [total - small, small] : [small, total - small];
      };
      const [t, b] = side(h ?? 1, 0);
      const [l, r] = side(w ?? 1, 1);
      return [t, l, b, r];
    };
    const pair = (name: string, d: number): Pair => {
      const v = attrInts(name, [d, d]);
      if (v.length !== 2) fail(`${name} must have 2 values (2-D only)`);
      return [v[0]!, v[1]!];
    };

    switch (op) {
      case "Conv": {
        const w = constant(1);
        const k: Pair = [w.dims[2]!, w.dims[3]!];
        const s = pair("strides", 1);
        const d = pair("dilations", 1);
        const bias = node.input?.[2] ? constant(2) : undefined;
        const attrs = {
          filters: w.dims[0]!,
          k,
          s,
          d,
          p: padding(k, s, d, inputValue(0)),
          g: attrInt("group", 1),
          padmode: "zeros",
          bias: !!bias,
          ...none,
        } as const;
        emit("conv2d", [inputValue(0)], attrs, bias ? [w.data, bias.data] : [w.data]);
        break;
      }
      case "ConvTranspose": {
        if (attr("output_shape"))
          fail("output_shape is not supported; give pads and output_padding");
        const w = constant(1);
        const g0 = attrInt("group", 1);
        const k: Pair = [w.dims[2]!, w.dims[3]!];
        const s = pair("strides", 1);
        const d = pair("dilations", 1);
        const p = attrInts("pads", [0, 0, 0, 0]);
        if (attrStr("auto_pad", "NOTSET") !== "NOTSET")
          fail("auto_pad is not supported for ConvTranspose");
        const bias = node.input?.[2] ? constant(2) : undefined;
        const attrs = {
          filters: w.dims[1]! * g0,
          k,
          s,
          d,
          p: [p[0]!, p[1]!, p[2]!, p[3]!] as Quad,
          g: g0,
          outpad: pair("output_padding", 0),
          bias: !!bias,
        };
        emit("deconv2d", [inputValue(0)], attrs, bias ? [w.data, bias.data] : [w.data]);
        break;
      }
      case "BatchNormalization": {
        if (attrInt("training_mode", 0)) fail("training_mode is not supported");
        emit(
          "batchnorm",
          [inputValue(0)],
          { eps: attrFloat("epsilon", 1e-5) },
          [1, 2, 3, 4].map((i) => constant(i).data),
        );
        break;
      }
      case "Relu":
      case "Sigmoid":
      case "Tanh":
      case "HardSwish": {
        const kind = (
          { Relu: "relu", Sigmoid: "sigmoid", Tanh: "tanh", HardSwish: "hardswish" } as const
        )[op];
        // x * sigmoid(x) is silu.
        const mul = readers.get(out);
        const m = mul?.length === 1 ? mul[0] : undefined;
        if (
          op === "Sigmoid" &&
          m?.opType === "Mul" &&
          m.input?.includes(node.input![0]!) &&
          m.input.includes(out)
        ) {
          consumed.add(m);
          emit("silu", [inputValue(0)], {}, [], m.output![0]!);
          break;
        }
        emit(kind, [inputValue(0)], {});
        break;
      }
      case "LeakyRelu":
        emit("leaky_relu", [inputValue(0)], { alpha: attrFloat("alpha", 0.01) });
        break;
      case "HardSigmoid": {
        const a = attrFloat("alpha", 0.2);
        const b = attrFloat("beta", 0.5);
        if (Math.abs(a - 1 / 6) > 1e-6 || Math.abs(b - 0.5) > 1e-6)
          fail(`alpha ${a}, beta ${b}: only relu6(x + 3) / 6 (alpha 1/6, beta 0.5) is supported`);
        emit("hardsigmoid", [inputValue(0)], {});
        break;
      }
      case "Gelu":
        if (attrStr("approximate", "none") !== "none")
          fail("the tanh approximation is not supported");
        emit("gelu", [inputValue(0)], {});
        break;
      case "Clip": {
        const lo =
          opset >= 11
            ? node.input?.[1]
              ? constant(1).data[0]!
              : -Infinity
            : attrFloat("min", -Infinity);
        const hi =
          opset >= 11
            ? node.input?.[2]
              ? constant(2).data[0]!
              : Infinity
            : attrFloat("max", Infinity);
        if (lo === 0 && hi === 6) emit("relu6", [inputValue(0)], {});
        else if (lo === 0 && hi === Infinity) emit("relu", [inputValue(0)], {});
        else fail(`Clip(${lo}, ${hi}) is not supported (only relu and relu6)`);
        break;
      }
      case "Div": {
        // GELU's erf form: x / sqrt(2) -> Erf -> + 1 -> * x -> * 0.5 (either multiplication first).
        const c = constants.get(node.input?.[1] ?? "");
        const erf = readers.get(out)?.[0];
        const add = erf && readers.get(erf.output![0]!)?.[0];
        const mul1 = add && readers.get(add.output![0]!)?.[0];
        const mul2 = mul1 && readers.get(mul1.output![0]!)?.[0];
        const x = node.input![0]!;
        const gelu =
          c &&
          Math.abs(c.data[0]! - Math.SQRT2) < 1e-5 &&
          erf?.opType === "Erf" &&
          add?.opType === "Add" &&
          mul1?.opType === "Mul" &&
          mul2?.opType === "Mul" &&
          mul1.input?.includes(x);
        if (!gelu) fail("only the x / sqrt(2) of GELU's erf form is supported");
        [erf, add, mul1, mul2].forEach((n) => consumed.add(n!));
        emit("gelu", [inputValue(0)], {}, [], mul2!.output![0]!);
        break;
      }
      case "MaxPool":
      case "AveragePool": {
        if (attrInts("dilations", [1, 1]).some((v) => v !== 1))
          fail("dilated pooling is not supported");
        const k = pair("kernel_shape", 1);
        const s = pair("strides", 1);
        const p = padding(k, s, [1, 1], inputValue(0));
        const ceil = attrInt("ceil_mode", 0) === 1;
        if (op === "MaxPool") emit("maxpool2d", [inputValue(0)], { k, s, p, ceil });
        else
          emit("avgpool2d", [inputValue(0)], {
            k,
            s,
            p,
            ceil,
            count_pad: attrInt("count_include_pad", 0) === 1,
          });
        break;
      }
      case "GlobalAveragePool":
        emit("globalavgpool", [inputValue(0)], {});
        break;
      case "GlobalMaxPool":
        emit("globalmaxpool", [inputValue(0)], {});
        break;
      case "Flatten":
        if (attrInt("axis", 1) !== 1) fail("only axis 1 is supported");
        emit("flatten", [inputValue(0)], {});
        break;
      case "Reshape": {
        const target = constant(1).data;
        const per = shapeOf(inputValue(0)).reduce((a, b) => a * b, 1);
        const flat = target.length === 2 && (target[1] === -1 || target[1] === per);
        if (!flat)
          fail(
            `only a reshape to [N, ${per}] (flatten) is supported, got [${Array.from(target).join(", ")}]`,
          );
        emit("flatten", [inputValue(0)], {});
        break;
      }
      case "Gemm": {
        if (attrInt("transA", 0)) fail("transA is not supported");
        const w = constant(1);
        const alpha = attrFloat("alpha", 1);
        const beta = attrFloat("beta", 1);
        const transB = attrInt("transB", 0) === 1;
        const [rows, cols] = [w.dims[0]!, w.dims[1]!];
        const units = transB ? rows : cols;
        const weight = new Float32Array(rows * cols);
        // cnnc's dense weight is [units, inputs]: B as given when transB, else transposed.
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const v = w.data[r * cols + c]! * alpha;
            if (transB) weight[r * cols + c] = v;
            else weight[c * rows + r] = v;
          }
        }
        const bias = node.input?.[2] ? constant(2) : undefined;
        if (bias && bias.data.length !== units)
          fail(`bias of ${bias.data.length} values, expected ${units}`);
        const weights = bias ? [weight, bias.data.map((v) => v * beta)] : [weight];
        emit("dense", [inputValue(0)], { units, bias: !!bias, ...none }, weights);
        break;
      }
      case "MatMul": {
        const w = constant(1);
        const [inputs, units] = [w.dims[0]!, w.dims[1]!];
        const weight = new Float32Array(inputs * units);
        for (let i = 0; i < inputs; i++)
          for (let u = 0; u < units; u++) weight[u * inputs + i] = w.data[i * units + u]!;
        const next = readers.get(out);
        const add = next?.length === 1 && next[0]!.opType === "Add" ? next[0] : undefined;
        const biasName = add?.input?.find((i) => i !== out);
        const bias = biasName !== undefined ? constants.get(biasName) : undefined;
        if (add && bias && bias.data.length === units) {
          consumed.add(add);
          emit(
            "dense",
            [inputValue(0)],
            { units, bias: true, ...none },
            [weight, bias.data],
            add.output![0]!,
          );
        } else emit("dense", [inputValue(0)], { units, bias: false, ...none }, [weight]);
        break;
      }
      case "Add":
      case "Mul":
        emit(op === "Add" ? "add" : "mul", [inputValue(0), inputValue(1)], {});
        break;
      case "Concat": {
        const axis = attrInt("axis", 1);
        const rank = shapeOf(inputValue(0)).length + 1;
        if (axis !== 1 && axis !== 1 - rank)
          fail(`only concatenation along channels (axis 1) is supported, got axis ${axis}`);
        emit(
          "concat",
          (node.input ?? []).map((_, i) => inputValue(i)),
          {},
        );
        break;
      }
      case "Softmax": {
        const axis = attrInt("axis", opset >= 13 ? -1 : 1);
        const shape = shapeOf(inputValue(0));
        const rank = shape.length + 1;
        const channels = axis === 1 || axis === 1 - rank || (rank === 2 && axis === -1);
        const legacyOk = opset >= 13 || rank === 2 || shape.slice(1).every((d) => d === 1);
        if (!channels || !legacyOk)
          fail(`only softmax over channels is supported (axis ${axis}, rank ${rank})`);
        emit("softmax", [inputValue(0)], {});
        break;
      }
      case "Dropout":
      case "Identity":
        alias();
        break;
      case "Pad": {
        const mode = attrStr("mode", "constant");
        const pads = opset >= 11 ? Array.from(constant(1).data) : attrInts("pads", []);
        if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5])
          fail("only padding of H and W is supported");
        const value = opset >= 11 && node.input?.[2] ? constant(2).data[0]! : attrFloat("value", 0);
        const padMode = ({ constant: "zeros", edge: "replicate", reflect: "reflect" } as const)[
          mode as "constant"
        ];
        if (!padMode) fail(`mode '${mode}' is not supported`);
        emit("pad", [inputValue(0)], {
          p: [pads[2]!, pads[3]!, pads[6]!, pads[7]!],
          mode: padMode,
          value,
        });
        break;
      }
      case "Resize":
      case "Upsample": {
        const mode = attrStr("mode", "nearest");
        const x = inputValue(0);
        const [, h, w] = shapeOf(x);
        let scales: number[] | undefined;
        const scaleInput = op === "Upsample" ? 1 : 2;
        if (node.input?.[scaleInput] && constants.get(node.input[scaleInput]!)?.data.length)
          scales = Array.from(constant(scaleInput).data);
        else if (op === "Resize" && node.input?.[3]) {
          const sizes = constant(3).data;
          scales = [1, 1, sizes[2]! / h!, sizes[3]! / w!];
        }
        if (
          !scales ||
          scales.length !== 4 ||
          scales[0] !== 1 ||
          scales[1] !== 1 ||
          !scales.slice(2).every((v) => Number.isInteger(v) && v >= 1)
        ) {
          fail("only integer scales of H and W are supported");
        }
        const coords = attrStr("coordinate_transformation_mode", "half_pixel");
        if (mode === "nearest") {
          if (op === "Resize" && coords !== "asymmetric")
            fail(
              `nearest with coordinate_transformation_mode '${coords}' is not supported (asymmetric is)`,
            );
          emit("upsample", [x], { scale: [scales![2]!, scales![3]!], mode: "nearest" });
        } else if (
          mode === "linear" &&
          (coords === "half_pixel" || coords === "pytorch_half_pixel")
        ) {
          emit("upsample", [x], { scale: [scales![2]!, scales![3]!], mode: "bilinear" });
        } else fail(`mode '${mode}' with '${coords}' is not supported`);
        break;
      }
      case "LRN": {
        const size = attrInt("size", 1);
        if (size % 2 === 0)
          fail(
            "an even size is centred differently by ONNX and PyTorch; only odd sizes are supported",
          );
        emit("lrn", [inputValue(0)], {
          size,
          alpha: attrFloat("alpha", 1e-4),
          beta: attrFloat("beta", 0.75),
          k: attrFloat("bias", 1),
        });
        break;
      }
      default:
        fail("this op is not supported");
    }
  }
  for (const o of g.output ?? []) {
    const v = value.get(o.name ?? "");
    if (v === undefined) throw new ImportError(`output '${o.name}' is not computed by the graph`);
    // Keep the output's own name when it is the layer's; else a fresh legal one.
    const legal = (o.name ?? "").replace(/[^A-Za-z0-9_]+/g, "_");
    builder.output(legal === v ? v : names.make(o.name ?? "y", "y"), v);
  }
  return { ...builder.build(), constants: data };
}
