// IR -> ONNX (opset 17): the same network and weights as a model any ONNX runtime can run, so
// that cnnc's results can be checked against ONNX Runtime, a reference nobody here wrote.
// Written through onnx-proto (ONNX's own schema compiled by protobufjs). Value and weight names
// are kept. Each op writes itself (its registry entry's `toOnnx`) through the writer below;
// where ONNX says a thing differently the op spells it out (replicate/reflect padding as an
// explicit Pad, relu6 as Clip, gelu in its erf form, a fused epilogue as Add and activation
// nodes). What ONNX cannot say exactly is an error.
import onnxProto from "onnx-proto";
import { valueShapes, type Graph, type Shape } from "../ir/graph.js";
import { legalize } from "../ops/legalize.js";
import { CompileError } from "../errors.js";
import {
  activations,
  nodeActivation,
  opDef,
  type OnnxAttr,
  type OnnxWriter,
} from "../ops/index.js";

const { onnx } = onnxProto;
type NodeProto = onnxProto.onnx.INodeProto;
type AttributeProto = onnxProto.onnx.IAttributeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

export class ExportError extends CompileError {}

export const exportOpset = 17;

const A = onnx.AttributeProto.AttributeType;

function attribute(name: string, v: OnnxAttr): AttributeProto {
  if ("int" in v) return { name, type: A.INT, i: v.int };
  if ("ints" in v) return { name, type: A.INTS, ints: [...v.ints] };
  if ("float" in v) return { name, type: A.FLOAT, f: v.float };
  return { name, type: A.STRING, s: new TextEncoder().encode(v.string) };
}

function floatTensor(name: string, dims: readonly number[], data: ArrayLike<number>): TensorProto {
  const values = Float32Array.from(data);
  return {
    name,
    dims: [...dims],
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(values.buffer),
  };
}

/** The node list and initializers being written; what each op's `toOnnx` writes through. */
class Writer implements OnnxWriter {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly names = new Set<string>();
  /** The layer being written, for errors. */
  layer = "";

  constructor(
    private readonly shapes: ReadonlyMap<string, Shape>,
    private readonly constants: ReadonlyMap<string, Float32Array>,
  ) {}

  node(
    op: string,
    inputs: readonly string[],
    output: string,
    attrs: Readonly<Record<string, OnnxAttr>> = {},
  ): string {
    const attribute_ = Object.entries(attrs).map(([k, v]) => attribute(k, v));
    this.nodes.push({
      opType: op,
      input: [...inputs],
      output: [output],
      name: output,
      attribute: attribute_,
    });
    return output;
  }

  private initializer(name: string, make: () => TensorProto): string {
    if (!this.names.has(name)) {
      this.names.add(name);
      this.initializers.push(make());
    }
    return name;
  }

  floats(name: string, dims: readonly number[], values: ArrayLike<number>): string {
    return this.initializer(name, () => floatTensor(name, dims, values));
  }

  int64s(name: string, values: readonly number[]): string {
    return this.initializer(name, () => ({
      name,
      dims: [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      int64Data: [...values],
    }));
  }

  weight(name: string): Float32Array {
    const data = this.constants.get(name);
    if (!data) throw new Error(`internal: no data for weight '${name}'`);
    return data;
  }

  shapeOf(value: string): Shape {
    const shape = this.shapes.get(value);
    if (!shape) throw new Error(`internal: no value '${value}'`);
    return shape;
  }

  fail(why: string): never {
    throw new ExportError(`layer '${this.layer}': ${why}`);
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
export function exportOnnx(given: Graph): Uint8Array {
  const graph = legalize(given).graph;
  const constants = graph.constants;
  if (!constants) throw new ExportError("the network has no weights to export");
  const w = new Writer(valueShapes(graph), constants);
  for (const decl of graph.weights) w.floats(decl.name, decl.shape, constants.get(decl.name)!);
  for (const node of graph.nodes) {
    const def = opDef(node.op);
    if (def.toOnnx === "legalized" || typeof def.emit === "object")
      throw new Error(`internal: '${node.op}' reached the exporter; legalisation removes it`);
    w.layer = node.name;
    const { act, alpha } = nodeActivation(node);
    if (def.traits.fusedActivation !== "post" || act === "none") {
      def.toOnnx(node, w);
      continue;
    }
    // A fused post-activation: the op into `<name>.core`, then the activation node.
    const core = `${node.name}.core`;
    def.toOnnx({ ...node, name: core }, w);
    activations[act].toOnnx(w, core, node.name, alpha);
  }
  // An output named apart from its value gets an Identity node carrying its name.
  const outputs = graph.outputs.map((o) => {
    if (o.name !== o.value) w.node("Identity", [o.value], o.name);
    return valueInfo(o.name, w.shapeOf(o.value));
  });
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: "cnnc",
    opsetImport: [{ domain: "", version: exportOpset }],
    graph: {
      name: graph.name,
      node: w.nodes,
      initializer: w.initializers,
      input: graph.inputs.map((i) => valueInfo(i.name, i.shape)),
      output: outputs,
    },
  }).finish();
}
