// IR -> ONNX (opset 17): the same network and weights as a model any ONNX runtime can run, so
// that cnnc's results can be checked against ONNX Runtime, a reference nobody here wrote.
// Written through onnx-proto (ONNX's own schema compiled by protobufjs). Value and weight names
// are kept. Where ONNX says a thing differently the export spells it out: replicate/reflect
// conv padding becomes an explicit Pad, relu6 a Clip, gelu its erf form, silu x*sigmoid(x),
// a fused epilogue its Add and activation nodes. What ONNX cannot say exactly is an error.
import onnxProto from "onnx-proto";
import { valueShapes, type Graph, type Node } from "../ir/graph.js";
import { nodeActivation, postActOps, type EpilogueAct, type PadMode } from "../ir/ops.js";

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

export class ExportError extends Error {}

export const exportOpset = 17;

const A = onnx.AttributeProto.AttributeType;

function ints(name: string, values: readonly number[]): AttributeProto {
  return { name, type: A.INTS, ints: [...values] };
}
function int(name: string, value: number): AttributeProto {
  return { name, type: A.INT, i: value };
}
function float(name: string, value: number): AttributeProto {
  return { name, type: A.FLOAT, f: value };
}
function str(name: string, value: string): AttributeProto {
  return { name, type: A.STRING, s: new TextEncoder().encode(value) };
}

function floatTensor(name: string, dims: readonly number[], data: Float32Array): TensorProto {
  const raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return { name, dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw };
}
function int64Tensor(name: string, values: readonly number[]): TensorProto {
  return {
    name,
    dims: [values.length],
    dataType: onnx.TensorProto.DataType.INT64,
    int64Data: [...values],
  };
}

/** Builds the node list, naming the helper values it needs after the layer they serve. */
class Emitter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];

  node(
    op: string,
    inputs: readonly string[],
    output: string,
    attribute: AttributeProto[] = [],
  ): string {
    this.nodes.push({ opType: op, input: [...inputs], output: [output], name: output, attribute });
    return output;
  }

  constant(name: string, tensor: (name: string) => TensorProto): string {
    if (!this.initializers.some((t) => t.name === name)) this.initializers.push(tensor(name));
    return name;
  }

  /** ONNX Pad: pads for all four NCHW dims, begins then ends. */
  pad(input: string, output: string, p: readonly number[], mode: PadMode, value = 0): string {
    const [t, l, b, r] = p;
    const pads = this.constant(`${output}.pads`, (n) =>
      int64Tensor(n, [0, 0, t!, l!, 0, 0, b!, r!]),
    );
    const onnxMode = { zeros: "constant", replicate: "edge", reflect: "reflect" }[mode];
    const inputs = [input, pads];
    if (mode === "zeros")
      inputs.push(
        this.constant(`${output}.value`, (n) => floatTensor(n, [], new Float32Array([value]))),
      );
    return this.node("Pad", inputs, output, [str("mode", onnxMode)]);
  }

  activation(act: EpilogueAct | "leaky_relu", input: string, output: string, alpha = 0): string {
    switch (act) {
      case "none":
        return this.node("Identity", [input], output);
      case "relu":
        return this.node("Relu", [input], output);
      case "relu6": {
        const lo = this.constant("cnnc.zero", (n) => floatTensor(n, [], new Float32Array([0])));
        const hi = this.constant("cnnc.six", (n) => floatTensor(n, [], new Float32Array([6])));
        return this.node("Clip", [input, lo, hi], output);
      }
      case "leaky_relu":
        return this.node("LeakyRelu", [input], output, [float("alpha", alpha)]);
      case "sigmoid":
        return this.node("Sigmoid", [input], output);
      case "tanh":
        return this.node("Tanh", [input], output);
      case "hardswish":
        return this.node("HardSwish", [input], output);
      case "hardsigmoid":
        return this.node("HardSigmoid", [input], output, [
          float("alpha", 1 / 6),
          float("beta", 0.5),
        ]);
      case "silu": {
        const s = this.node("Sigmoid", [input], `${output}.sigmoid`);
        return this.node("Mul", [input, s], output);
      }
      case "gelu": {
        // 0.5 * x * (1 + erf(x / sqrt(2)))
        const root2 = this.constant("cnnc.sqrt2", (n) =>
          floatTensor(n, [], new Float32Array([Math.SQRT2])),
        );
        const one = this.constant("cnnc.one", (n) => floatTensor(n, [], new Float32Array([1])));
        const half = this.constant("cnnc.half", (n) => floatTensor(n, [], new Float32Array([0.5])));
        const d = this.node("Div", [input, root2], `${output}.div`);
        const e = this.node("Erf", [d], `${output}.erf`);
        const a = this.node("Add", [e, one], `${output}.add`);
        const m = this.node("Mul", [input, a], `${output}.mul`);
        return this.node("Mul", [m, half], output);
      }
    }
  }
}

function convAttrs(
  a: { k: readonly number[]; s: readonly number[]; d: readonly number[]; g: number },
  pads: readonly number[],
): AttributeProto[] {
  return [
    ints("kernel_shape", a.k),
    ints("strides", a.s),
    ints("pads", pads),
    ints("dilations", a.d),
    int("group", a.g),
  ];
}

/** The layer's own op, then its fused epilogue (residual add, activation). */
function exportNode(e: Emitter, node: Node, inChannels: number): void {
  const x = node.inputs[0]!;
  const out = node.name;
  switch (node.op) {
    case "conv2d":
    case "dense": {
      const a = node.attrs;
      const tail = node.inputs.length > 1 || a.act !== "none";
      const core = tail ? `${out}.core` : out;
      if (node.op === "conv2d") {
        const c = node.attrs;
        let input = x;
        let pads: readonly number[] = c.p;
        if (c.padmode !== "zeros" && c.p.some((v) => v > 0)) {
          input = e.pad(x, `${out}.pad`, c.p, c.padmode);
          pads = [0, 0, 0, 0];
        }
        e.node("Conv", [input, ...node.weights], core, convAttrs(c, pads));
      } else {
        e.node("Gemm", [x, ...node.weights], core, [int("transB", 1)]);
      }
      let v = core;
      if (node.inputs[1])
        v = e.node("Add", [v, node.inputs[1]], a.act === "none" ? out : `${out}.residual`);
      if (a.act !== "none") e.activation(a.act, v, out, a.alpha);
      return;
    }
    case "deconv2d": {
      const a = node.attrs;
      e.node("ConvTranspose", [x, ...node.weights], out, [
        ...convAttrs(a, a.p),
        ints("output_padding", a.outpad),
      ]);
      return;
    }
    case "sepconv2d": {
      const a = node.attrs;
      const [dw, pw, bias] = node.weights;
      let input = x;
      let pads: readonly number[] = a.p;
      if (a.padmode !== "zeros" && a.p.some((v) => v > 0)) {
        input = e.pad(x, `${out}.pad`, a.p, a.padmode);
        pads = [0, 0, 0, 0];
      }
      const mid = e.node(
        "Conv",
        [input, dw!],
        `${out}.depthwise`,
        convAttrs({ ...a, g: inChannels }, pads),
      );
      e.node(
        "Conv",
        bias ? [mid, pw!, bias] : [mid, pw!],
        out,
        convAttrs({ k: [1, 1], s: [1, 1], d: [1, 1], g: 1 }, [0, 0, 0, 0]),
      );
      return;
    }
    case "maxpool2d":
      e.node("MaxPool", [x], out, [
        ints("kernel_shape", node.attrs.k),
        ints("strides", node.attrs.s),
        ints("pads", node.attrs.p),
        int("ceil_mode", node.attrs.ceil ? 1 : 0),
      ]);
      return;
    case "avgpool2d":
      e.node("AveragePool", [x], out, [
        ints("kernel_shape", node.attrs.k),
        ints("strides", node.attrs.s),
        ints("pads", node.attrs.p),
        int("ceil_mode", node.attrs.ceil ? 1 : 0),
        int("count_include_pad", node.attrs.count_pad ? 1 : 0),
      ]);
      return;
    case "globalavgpool":
      e.node("GlobalAveragePool", [x], out);
      return;
    case "globalmaxpool":
      e.node("GlobalMaxPool", [x], out);
      return;
    case "batchnorm":
      e.node("BatchNormalization", [x, ...node.weights], out, [float("epsilon", node.attrs.eps)]);
      return;
    case "flatten":
      e.node("Flatten", [x], out, [int("axis", 1)]);
      return;
    case "dropout":
      e.node("Identity", [x], out);
      return;
    case "upsample": {
      const { scale, mode } = node.attrs;
      const scales = e.constant(`${out}.scales`, (n) =>
        floatTensor(n, [4], new Float32Array([1, 1, scale[0], scale[1]])),
      );
      const attrs =
        mode === "nearest"
          ? [
              str("mode", "nearest"),
              str("coordinate_transformation_mode", "asymmetric"),
              str("nearest_mode", "floor"),
            ]
          : [str("mode", "linear"), str("coordinate_transformation_mode", "pytorch_half_pixel")];
      e.node("Resize", [x, "", scales], out, attrs);
      return;
    }
    case "pad":
      e.pad(x, out, node.attrs.p, node.attrs.mode, node.attrs.value);
      return;
    case "lrn": {
      const a = node.attrs;
      if (a.size % 2 === 0) {
        throw new ExportError(
          `layer '${out}': lrn with an even size (${a.size}) has no exact ONNX equivalent; ONNX centres the window differently from PyTorch`,
        );
      }
      e.node("LRN", [x], out, [
        int("size", a.size),
        float("alpha", a.alpha),
        float("beta", a.beta),
        float("bias", a.k),
      ]);
      return;
    }
    case "softmax":
      e.node("Softmax", [x], out, [int("axis", 1)]);
      return;
    case "concat":
      e.node("Concat", node.inputs, out, [int("axis", 1)]);
      return;
    case "add":
    case "mul": {
      const op = node.op === "add" ? "Add" : "Mul";
      let acc = node.inputs[0]!;
      node.inputs.slice(1).forEach((v, i) => {
        acc = e.node(op, [acc, v], i === node.inputs.length - 2 ? out : `${out}.${i}`);
      });
      return;
    }
    case "leaky_relu":
      e.activation("leaky_relu", x, out, node.attrs.alpha);
      return;
    default:
      e.activation(node.op, x, out);
  }
}

function valueInfo(name: string, shape: readonly number[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: "N" }, ...shape.map((d) => ({ dimValue: d }))] },
      },
    },
  };
}

/** The graph as an ONNX model; `graph.constants` must hold every weight. */
export function exportOnnx(graph: Graph): Uint8Array {
  const constants = graph.constants;
  if (!constants) throw new ExportError("the network has no weights to export");
  const shapes = valueShapes(graph);
  const e = new Emitter();
  for (const w of graph.weights)
    e.initializers.push(floatTensor(w.name, w.shape, constants.get(w.name)!));
  for (const node of graph.nodes) {
    const inChannels = shapes.get(node.inputs[0]!)?.[0] ?? 1;
    const { act, alpha } = nodeActivation(node);
    if (!postActOps.has(node.op) || act === "none") {
      exportNode(e, node, inChannels);
      continue;
    }
    // A fused post-activation: the op into `<name>.core`, then the activation node.
    const core = `${node.name}.core`;
    exportNode(
      e,
      { ...node, name: core, attrs: { ...node.attrs, act: "none" } } as Node,
      inChannels,
    );
    e.activation(act, core, node.name, alpha);
  }
  // An output named apart from its value gets an Identity node carrying its name.
  const outputs = graph.outputs.map((o) => {
    if (o.name !== o.value) e.node("Identity", [o.value], o.name);
    return valueInfo(o.name, shapes.get(o.value)!);
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: "cnnc",
    opsetImport: [{ domain: "", version: exportOpset }],
    graph: {
      name: graph.name,
      node: e.nodes,
      initializer: e.initializers,
      input: graph.inputs.map((i) => valueInfo(i.name, i.shape)),
      output: outputs,
    },
  }).finish();
}
