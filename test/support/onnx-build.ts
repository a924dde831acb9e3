// Building small ONNX models node by node in tests (onnx-proto), for the import tests.
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
const A = onnx.AttributeProto.AttributeType;

export type Attr = number | number[] | string;

export interface TestNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly output: string;
  readonly attrs?: Readonly<Record<string, Attr>>;
  readonly floats?: Readonly<Record<string, number>>;
  /** Tensor attributes (Constant's value). */
  readonly tensors?: Readonly<Record<string, onnxProto.onnx.ITensorProto>>;
  /** More outputs than the one (Split). */
  readonly outputs?: readonly string[];
}

export function floatInit(
  name: string,
  dims: number[],
  data: number[],
): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: data };
}

export function int64Init(name: string, data: number[]): onnxProto.onnx.ITensorProto {
  return { name, dims: [data.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: data };
}

export function buildModel(options: {
  readonly opset?: number;
  readonly input: readonly (number | string)[];
  readonly output: string;
  readonly nodes: readonly TestNode[];
  readonly initializers?: onnxProto.onnx.ITensorProto[];
  /** Graph inputs beside x (weights given as inputs, initializer-backed inputs). */
  readonly inputs?: readonly {
    readonly name: string;
    readonly dims: readonly (number | string)[];
  }[];
}): Uint8Array {
  const attribute = (n: TestNode): onnxProto.onnx.IAttributeProto[] => [
    ...Object.entries(n.attrs ?? {}).map(([name, v]) =>
      typeof v === "string"
        ? { name, type: A.STRING, s: new TextEncoder().encode(v) }
        : Array.isArray(v)
          ? { name, type: A.INTS, ints: v }
          : { name, type: A.INT, i: v },
    ),
    ...Object.entries(n.floats ?? {}).map(([name, f]) => ({ name, type: A.FLOAT, f })),
    ...Object.entries(n.tensors ?? {}).map(([name, t]) => ({ name, type: A.TENSOR, t })),
  ];
  const dim = (d: number | string) => (typeof d === "number" ? { dimValue: d } : { dimParam: d });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: "", version: options.opset ?? 17 }],
    graph: {
      name: "T",
      node: options.nodes.map((n, i) => ({
        opType: n.op,
        input: [...n.inputs],
        output: [n.output, ...(n.outputs ?? [])],
        name: `n${i + 1}`,
        attribute: attribute(n),
      })),
      initializer: options.initializers ?? [],
      input: [
        {
          name: "x",
          type: { tensorType: { elemType: 1, shape: { dim: options.input.map(dim) } } },
        },
        ...(options.inputs ?? []).map((i) => ({
          name: i.name,
          type: { tensorType: { elemType: 1, shape: { dim: i.dims.map(dim) } } },
        })),
      ],
      output: [{ name: options.output, type: { tensorType: { elemType: 1 } } }],
    },
  }).finish();
}
