// ONNX as real exporters write it (PyTorch 1.x, paddle2onnx, tf2onnx), model by model against
// ONNX Runtime on the same bytes at batch 2: shapes computed by Shape/Gather/Concat subgraphs
// (folded, the batch size kept open), arithmetic with constants (the scale op), 1-D data,
// opsets before 11, weights given as graph inputs (named at once; --freeze), dynamic inputs
// (--input-shape), every problem reported at once, and the import report.
import ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { interpret } from "../compiler/interp/index.js";
import { compileGraph } from "../compiler/compile.js";
import { importOnnx, type ImportOptions } from "../compiler/onnx/index.js";
import { random } from "../compiler/weights/index.js";
import { buildModel, floatInit, int64Init, type TestNode } from "./support/onnx-build.js";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
const rand = random(21);
const values = (n: number): number[] => Array.from({ length: n }, () => rand() * 2 - 1);

/**
 * The model imported and interpreted at `batch`, against ONNX Runtime on the same bytes; the
 * input's ONNX dims are `dims` with N = batch. Returns the graph and the import report.
 */
async function agrees(
  bytes: Uint8Array,
  dims: readonly number[],
  options: ImportOptions = {},
  feeds: Record<string, { data: Float32Array; dims: number[] }> = {},
): Promise<{ ops: string[]; report: string[] }> {
  const report: string[] = [];
  const graph = importOnnx(bytes, { ...options, onReport: (l) => report.push(l) });
  const x = Float32Array.from(values(dims.reduce((a, b) => a * b, 1)));
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({
    x: new ort.Tensor("float32", x, [...dims]),
    ...Object.fromEntries(
      Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor("float32", v.data, v.dims)]),
    ),
  });
  const want = out[session.outputNames[0]!]!.data as Float32Array;
  // Through the compiler's passes too (scale folding into convs), as `cnnc run --cpu` runs it.
  const { graph: built } = compileGraph(graph, { passesOnly: true });
  for (const g of [graph, built]) {
    const got = interpret(g, g.constants!, { [g.inputs[0]!.name]: x }, dims[0]!).get(
      g.outputs[0]!.name,
    )!;
    expect(got.length).toBe(want.length);
    const scale = Math.max(1, ...Array.from(want, Math.abs));
    let err = 0;
    for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
    expect(err / scale, `max error ${err}`).toBeLessThanOrEqual(1e-5);
  }
  return { ops: graph.nodes.map((n) => n.op), report };
}

const constant = (output: string, t: onnxProto.onnx.ITensorProto): TestNode => ({
  op: "Constant",
  inputs: [],
  output,
  tensors: { value: t },
});

describe("shapes computed by the graph", () => {
  // PyTorch 1.x's x.view(x.size(0), -1) at opset 9: Shape -> Gather(0) -> Unsqueeze -> Concat.
  const flattenByShape = (extra: TestNode[] = [], target = "shape"): Uint8Array =>
    buildModel({
      opset: 9,
      input: ["N", 3, 4, 5],
      output: "y",
      nodes: [
        { op: "Shape", inputs: ["x"], output: "s" },
        constant("zero", { dims: [], dataType: 7, int64Data: [0] }),
        { op: "Gather", inputs: ["s", "zero"], output: "n", attrs: { axis: 0 } },
        { op: "Unsqueeze", inputs: ["n"], output: "n1", attrs: { axes: [0] } },
        constant("minus1", { dims: [1], dataType: 7, int64Data: [-1] }),
        { op: "Concat", inputs: ["n1", "minus1"], output: "shape", attrs: { axis: 0 } },
        ...extra,
        { op: "Reshape", inputs: ["x", target], output: "f" },
        { op: "Relu", inputs: ["f"], output: "y" },
      ],
    });

  it("folds PyTorch's flatten by Shape/Gather/Concat, the batch size left open", async () => {
    const { ops, report } = await agrees(flattenByShape(), [2, 3, 4, 5]);
    expect(ops).toEqual(["flatten", "relu"]);
    expect(report).toEqual([
      "folded 6 nodes into constants (Shape 1, Constant 2, Gather 1, Unsqueeze 1, Concat 1)",
    ]);
  });

  it("refuses a target computed from the batch size other than as N itself", () => {
    const doubled = flattenByShape(
      [
        constant("two", { dims: [1], dataType: 7, int64Data: [2] }),
        { op: "Mul", inputs: ["shape", "two"], output: "shape2" },
      ],
      "shape2",
    );
    expect(() => importOnnx(doubled)).toThrow(
      /the target shape depends on the batch size other than as its first dimension/,
    );
  });
});

describe("arithmetic with constants, activations and reductions as exporters write them", () => {
  it("Paddle's forms: Add/Mul/Div by constants, HardSigmoid 0.2, Clip, Sub, Sum, Split, Slice", async () => {
    const bytes = buildModel({
      opset: 11,
      input: ["N", 4, 5, 6],
      output: "y",
      nodes: [
        { op: "Conv", inputs: ["x", "w"], output: "c" },
        { op: "Add", inputs: ["c", "three"], output: "a" },
        { op: "Mul", inputs: ["a", "perc"], output: "m" },
        { op: "Div", inputs: ["m", "six"], output: "d" },
        { op: "HardSigmoid", inputs: ["d"], output: "h", floats: { alpha: 0.2, beta: 0.5 } },
        { op: "Clip", inputs: ["d", "lo", "hi"], output: "k" },
        { op: "Sub", inputs: ["h", "k"], output: "s" },
        { op: "Sum", inputs: ["s", "h", "k"], output: "t" },
        {
          op: "Split",
          inputs: ["t"],
          output: "p",
          outputs: ["q"],
          attrs: { axis: 1, split: [2, 4] },
        },
        { op: "Slice", inputs: ["q", "st", "en", "ax"], output: "r" },
        { op: "Concat", inputs: ["r", "p"], output: "u", attrs: { axis: 1 } },
        { op: "Sub", inputs: ["one", "u"], output: "v" },
        // (before opset 13 LogSoftmax flattens from its axis: over channels only at 1x1)
        { op: "GlobalAveragePool", inputs: ["v"], output: "g" },
        { op: "LogSoftmax", inputs: ["g"], output: "y", attrs: { axis: 1 } },
      ],
      initializers: [
        floatInit("w", [6, 4, 1, 1], values(24)),
        floatInit("three", [], [3]),
        floatInit("perc", [1, 6, 1, 1], values(6)),
        floatInit("six", [1], [6]),
        floatInit("lo", [], [-0.25]),
        floatInit("hi", [], [0.5]),
        floatInit("one", [], [1]),
        int64Init("st", [1]),
        int64Init("en", [3]),
        int64Init("ax", [1]),
      ],
    });
    const { ops, report } = await agrees(bytes, [2, 4, 5, 6]);
    expect(ops).toContain("scale");
    expect(ops).toContain("clip");
    expect(ops).toContain("slice");
    expect(ops).toContain("log_softmax");
    expect(report.join("\n")).toMatch(/rewrote \d+ nodes \(Add by a constant as scale/);
  });

  it("Max, Min, Mean of computed values (broadcast), Div of two, Min with 6 as TF's relu6", async () => {
    const bytes = buildModel({
      opset: 13,
      input: ["N", 3, 4, 5],
      output: "y",
      nodes: [
        { op: "Conv", inputs: ["x", "w"], output: "c" },
        { op: "GlobalAveragePool", inputs: ["c"], output: "g" },
        { op: "Sigmoid", inputs: ["g"], output: "s" },
        { op: "Max", inputs: ["x", "c", "s"], output: "a" },
        { op: "Min", inputs: ["c", "s"], output: "b" },
        { op: "Mean", inputs: ["a", "b", "x"], output: "m" },
        { op: "Div", inputs: ["m", "s"], output: "d" },
        { op: "Relu", inputs: ["d"], output: "r" },
        { op: "Min", inputs: ["r", "six"], output: "r6" },
        { op: "Max", inputs: ["r6", "lo", "c"], output: "y" },
      ],
      initializers: [
        floatInit("w", [3, 3, 1, 1], values(9)),
        floatInit("six", [], [6]),
        floatInit("lo", [1], [-0.5]),
      ],
    });
    const { ops, report } = await agrees(bytes, [2, 3, 4, 5]);
    expect(ops).toEqual(
      expect.arrayContaining(["maximum", "minimum", "add", "scale", "div", "clip"]),
    );
    expect(report.join("\n")).toMatch(/Min with a constant as clip/);
    // a constant that varies per element has no merge to go into: refused, not guessed
    const perElement = buildModel({
      input: ["N", 2, 3, 3],
      output: "y",
      nodes: [{ op: "Max", inputs: ["x", "k"], output: "y" }],
      initializers: [floatInit("k", [2, 1, 1], [0, 1])],
    });
    expect(() => importOnnx(perElement)).toThrow(
      /Max node 'n1' .*a constant operand \(\[2,1,1\]\) is supported only as one value/,
    );
  });

  it("MatMul by a constant along the last axis (+ bias), per channel (3-D), of 1-D data", async () => {
    const map = buildModel({
      input: ["N", 3, 4, 5],
      output: "y",
      nodes: [
        { op: "MatMul", inputs: ["x", "w"], output: "m" },
        { op: "Add", inputs: ["m", "b"], output: "a" },
        { op: "Relu", inputs: ["a"], output: "r" },
        { op: "MatMul", inputs: ["r", "wc"], output: "y" },
      ],
      initializers: [
        floatInit("w", [5, 6], values(30)),
        floatInit("b", [6], values(6)),
        floatInit("wc", [1, 3, 6, 2], values(36)),
      ],
    });
    const { ops, report } = await agrees(map, [2, 3, 4, 5]);
    expect(ops.filter((o) => o === "conv2d")).toHaveLength(2);
    expect(report.join("\n")).toMatch(/MatMul by one matrix per channel as a grouped 1x1 conv/);
    const sequence = buildModel({
      input: ["N", 3, 5],
      output: "y",
      nodes: [{ op: "MatMul", inputs: ["x", "w"], output: "y" }],
      initializers: [floatInit("w", [5, 4], values(20))],
    });
    await agrees(sequence, [2, 3, 5]);
    const alongN = buildModel({
      input: ["N", 3, 4, 5],
      output: "y",
      nodes: [{ op: "MatMul", inputs: ["x", "w"], output: "y" }],
      initializers: [floatInit("w", [2, 3, 5, 2], values(60))],
    });
    expect(() => importOnnx(alongN)).toThrow(/does not multiply the \[3,4,5\] input/);
  });

  it("ReduceMean over H and W (keepdims 0) and ReduceMax over them (keepdims 1)", async () => {
    const bytes = buildModel({
      opset: 13,
      input: ["N", 3, 4, 5],
      output: "y",
      nodes: [
        { op: "ReduceMax", inputs: ["x"], output: "m", attrs: { axes: [2, 3] } },
        { op: "Add", inputs: ["x", "m"], output: "a" },
        { op: "ReduceMean", inputs: ["a"], output: "y", attrs: { axes: [-1, -2], keepdims: 0 } },
      ],
    });
    expect((await agrees(bytes, [2, 3, 4, 5])).ops).toEqual([
      "globalmaxpool",
      "add",
      "globalavgpool",
      "flatten",
    ]);
    const channels = buildModel({
      opset: 13,
      input: ["N", 3, 4, 5],
      output: "y",
      nodes: [{ op: "ReduceMean", inputs: ["x"], output: "y", attrs: { axes: [1] } }],
    });
    expect(() => importOnnx(channels)).toThrow(/only a reduction over the spatial axes/);
  });
});

describe("ops as ONNX defines them", () => {
  const deconv = (attrs: Record<string, number[] | string>) =>
    buildModel({
      input: ["N", 2, 5, 4],
      output: "y",
      nodes: [{ op: "ConvTranspose", inputs: ["x", "w", "b"], output: "y", attrs }],
      initializers: [floatInit("w", [2, 3, 3, 3], values(54)), floatInit("b", [3], values(3))],
    });

  it("ConvTranspose with output_shape or auto_pad computes its padding as ONNX says", async () => {
    const cases: Record<string, number[] | string>[] = [
      { strides: [2, 2], output_shape: [10, 8] },
      { strides: [2, 3], output_padding: [1, 0], output_shape: [11, 10] },
      { strides: [2, 2], auto_pad: "SAME_UPPER" },
      { strides: [3, 2], auto_pad: "SAME_LOWER" },
      { strides: [2, 2], auto_pad: "VALID" },
    ];
    for (const attrs of cases)
      expect((await agrees(deconv(attrs), [2, 2, 5, 4])).ops, JSON.stringify(attrs)).toEqual([
        "deconv2d",
      ]);
    expect(() => importOnnx(deconv({ strides: [1, 1], output_shape: [9, 9] }))).toThrow(
      /needs negative padding/,
    );
    expect(() => importOnnx(deconv({ strides: [2, 2], output_shape: [1, 3, 9, 7] }))).toThrow(
      /output_shape must give H and W/,
    );
  });

  it("DepthToSpace (DCR, CRD), SpaceToDepth, InstanceNormalization", async () => {
    const bytes = buildModel({
      input: ["N", 8, 4, 6],
      output: "y",
      nodes: [
        { op: "DepthToSpace", inputs: ["x"], output: "a", attrs: { blocksize: 2 } },
        { op: "SpaceToDepth", inputs: ["a"], output: "b", attrs: { blocksize: 2 } },
        { op: "DepthToSpace", inputs: ["b"], output: "c", attrs: { blocksize: 2, mode: "CRD" } },
        { op: "InstanceNormalization", inputs: ["c", "s", "t"], output: "y" },
      ],
      initializers: [floatInit("s", [2], [0.5, 2]), floatInit("t", [2], [1, -1])],
    });
    expect((await agrees(bytes, [2, 8, 4, 6])).ops).toEqual([
      "depth_to_space",
      "space_to_depth",
      "depth_to_space",
      "instance_norm",
    ]);
  });
});

describe("softmax and concat along any axis but N", () => {
  it("a detector's head: [N, A, 2] scores by Reshape, Softmax over the last axis, Concat along it", async () => {
    const bytes = buildModel({
      opset: 13,
      input: ["N", 4, 3, 5],
      output: "y",
      nodes: [
        { op: "Softmax", inputs: ["x"], output: "h", attrs: { axis: 2 } },
        { op: "Softmax", inputs: ["h"], output: "w", attrs: { axis: -1 } },
        { op: "Concat", inputs: ["w", "x"], output: "c", attrs: { axis: 3 } },
        { op: "Reshape", inputs: ["c", "shape"], output: "s" },
        { op: "Softmax", inputs: ["s"], output: "p" },
        { op: "Concat", inputs: ["p", "p"], output: "y", attrs: { axis: -1 } },
      ],
      initializers: [int64Init("shape", [0, -1, 2])],
    });
    const { ops } = await agrees(bytes, [2, 4, 3, 5]);
    // (2 around each softmax, one per input and one after each concat)
    expect(ops.filter((o) => o === "transpose")).toHaveLength(12);
  });
});

describe("an SSD decoder's arithmetic", () => {
  it("slices along the last axis, arithmetic with priors that vary along it, Exp, Concat", async () => {
    const bytes = buildModel({
      opset: 13,
      input: ["N", 8, 2, 3],
      output: "y",
      nodes: [
        { op: "Reshape", inputs: ["x", "shape"], output: "loc" },
        { op: "Slice", inputs: ["loc", "s0", "s2", "ax"], output: "xy" },
        { op: "Slice", inputs: ["loc", "s2", "s4", "ax"], output: "wh" },
        { op: "Mul", inputs: ["xy", "var0"], output: "a" },
        { op: "Mul", inputs: ["a", "pwh"], output: "b" },
        { op: "Add", inputs: ["b", "pxy"], output: "centre" },
        { op: "Mul", inputs: ["wh", "var1"], output: "c" },
        { op: "Exp", inputs: ["c"], output: "e" },
        { op: "Mul", inputs: ["e", "pwh"], output: "size" },
        { op: "Concat", inputs: ["centre", "size"], output: "y", attrs: { axis: 2 } },
      ],
      initializers: [
        int64Init("shape", [0, -1, 4]),
        int64Init("s0", [0]),
        int64Init("s2", [2]),
        int64Init("s4", [4]),
        int64Init("ax", [-1]),
        floatInit("var0", [], [0.1]),
        floatInit("var1", [], [0.2]),
        floatInit("pxy", [1, 12, 2], values(24)),
        floatInit("pwh", [1, 12, 2], values(24)),
      ],
    });
    const { ops } = await agrees(bytes, [2, 8, 2, 3]);
    expect(ops).toContain("affine");
    expect(ops).toContain("slice");
  });
});

describe("layer normalisation over all of an item", () => {
  it("LayerNormalization of [N, C, H, W] at axis 1 and of [N, F] at axis -1", async () => {
    const bytes = buildModel({
      opset: 17,
      input: ["N", 2, 3, 4],
      output: "y",
      nodes: [
        { op: "LayerNormalization", inputs: ["x", "s", "b"], output: "l", attrs: { axis: 1 } },
        { op: "Flatten", inputs: ["l"], output: "f" },
        { op: "LayerNormalization", inputs: ["f", "s2"], output: "y", floats: { epsilon: 0.01 } },
      ],
      initializers: [
        floatInit("s", [2, 3, 4], values(24)),
        floatInit("b", [2, 3, 4], values(24)),
        floatInit("s2", [24], values(24)),
      ],
    });
    expect((await agrees(bytes, [2, 2, 3, 4])).ops).toEqual([
      "layer_norm",
      "flatten",
      "layer_norm",
    ]);
    // ConvNeXt's LayerNorm over channels: NHWC transposes around a LayerNormalization at -1
    const convnext = buildModel({
      opset: 17,
      input: ["N", 4, 3, 5],
      output: "y",
      nodes: [
        { op: "Transpose", inputs: ["x"], output: "t", attrs: { perm: [0, 2, 3, 1] } },
        {
          op: "LayerNormalization",
          inputs: ["t", "s4", "b4"],
          output: "l",
          floats: { epsilon: 1e-6 },
        },
        { op: "Transpose", inputs: ["l"], output: "u", attrs: { perm: [0, 3, 1, 2] } },
        { op: "LayerNormalization", inputs: ["u", "s5"], output: "y" },
      ],
      initializers: [
        floatInit("s4", [4], values(4)),
        floatInit("b4", [4], values(4)),
        floatInit("s5", [5], values(5)),
      ],
    });
    expect((await agrees(convnext, [2, 4, 3, 5])).ops).toContain("channel_norm");
    const overHW = buildModel({
      opset: 17,
      input: ["N", 2, 3, 4],
      output: "y",
      nodes: [{ op: "LayerNormalization", inputs: ["x", "s"], output: "y", attrs: { axis: 2 } }],
      initializers: [floatInit("s", [3, 4], values(12))],
    });
    expect(() => importOnnx(overHW)).toThrow(
      /only a normalisation over all of an item \(axis 1\) or over the last axis/,
    );
  });
});

describe("1-D data, as [N, C, L]", () => {
  it("Conv1d, MaxPool1d, BatchNorm1d and PReLU compute as 2-D with H = 1", async () => {
    const bytes = buildModel({
      opset: 11,
      input: ["N", 3, 10],
      output: "y",
      nodes: [
        {
          op: "Conv",
          inputs: ["x", "w", "b"],
          output: "c",
          attrs: { pads: [1, 2], strides: [2], kernel_shape: [3], dilations: [1] },
        },
        { op: "MaxPool", inputs: ["c"], output: "p", attrs: { kernel_shape: [2], strides: [1] } },
        { op: "BatchNormalization", inputs: ["p", "g", "be", "mu", "va"], output: "n" },
        { op: "PRelu", inputs: ["n", "slope"], output: "y" },
      ],
      initializers: [
        floatInit("w", [4, 3, 3], values(36)),
        floatInit("b", [4], values(4)),
        floatInit("g", [4], values(4)),
        floatInit("be", [4], values(4)),
        floatInit("mu", [4], values(4)),
        floatInit("va", [4], [0.5, 1, 1.5, 2]),
        floatInit("slope", [4, 1], values(4)),
      ],
    });
    expect((await agrees(bytes, [2, 3, 10])).ops).toEqual([
      "conv2d",
      "maxpool2d",
      "batchnorm",
      "prelu",
    ]);
  });

  it("Shape of 1-D data is ONNX's [N, C, L]; Transpose to [N, L, C] and Concat along L", async () => {
    const bytes = buildModel({
      input: ["N", 2, 6],
      output: "y",
      nodes: [
        { op: "Relu", inputs: ["x"], output: "r" },
        { op: "Shape", inputs: ["r"], output: "s" },
        { op: "Neg", inputs: ["x"], output: "m" },
        { op: "Reshape", inputs: ["m", "s"], output: "z" },
        { op: "Concat", inputs: ["r", "z"], output: "c", attrs: { axis: 2 } },
        { op: "Transpose", inputs: ["c"], output: "t", attrs: { perm: [0, 2, 1] } },
        { op: "Softmax", inputs: ["t"], output: "y", attrs: { axis: -1 } },
      ],
    });
    await agrees(bytes, [2, 2, 6]);
  });
});

describe("graph inputs", () => {
  const convWithInputs = buildModel({
    input: ["N", 2, 4, 4],
    output: "y",
    nodes: [{ op: "Conv", inputs: ["x", "w", "b"], output: "y" }],
    inputs: [
      { name: "w", dims: [3, 2, 1, 1] },
      { name: "b", dims: [3] },
    ],
  });

  it("names every weight given as an input at once; --freeze makes them constants", async () => {
    expect(() => importOnnx(convWithInputs)).toThrow(
      "graph inputs used as weights have no initializer: 'w', 'b'; give their values with --freeze w=FILE.npy --freeze b=FILE.npy",
    );
    const w = { dims: [3, 2, 1, 1], data: Float32Array.from(values(6)) };
    const b = { dims: [3], data: Float32Array.from(values(3)) };
    const freeze = new Map([
      ["w", w],
      ["b", b],
    ]);
    expect((await agrees(convWithInputs, [2, 2, 4, 4], { freeze }, { w, b })).ops).toEqual([
      "conv2d",
    ]);
    expect(() => importOnnx(convWithInputs, { freeze: new Map([["v", w]]) })).toThrow(
      "--freeze v: the model has no input 'v' (its inputs: x, w, b)",
    );
  });

  it("takes an input with an initializer of its name as that constant (ONNX's default)", () => {
    const model = onnx.ModelProto.decode(convWithInputs);
    model.graph!.initializer = [
      floatInit("w", [3, 2, 1, 1], values(6)),
      floatInit("b", [3], [1, 2, 3]),
    ];
    const g = importOnnx(onnx.ModelProto.encode(model).finish());
    expect(g.inputs.map((i) => i.name)).toEqual(["x"]);
    expect(Array.from(g.constants!.get(g.nodes[0]!.weights[1]!)!)).toEqual([1, 2, 3]);
  });

  it("fixes dynamic dimensions from --input-shape; a fixed one must agree", () => {
    const dynamic = buildModel({
      input: ["N", 3, "height", "width"],
      output: "y",
      nodes: [{ op: "Relu", inputs: ["x"], output: "y" }],
    });
    expect(() => importOnnx(dynamic)).toThrow(
      "input 'x': dimension 2 is dynamic ('height'); give the shape to compile for with --input-shape x=?,3,?,?",
    );
    const g = importOnnx(dynamic, { inputShapes: new Map([["x", [1, 3, 32, 48]]]) });
    expect(g.inputs[0]!.shape).toEqual([3, 32, 48]);
    expect(() => importOnnx(dynamic, { inputShapes: new Map([["x", [1, 4, 32, 48]]]) })).toThrow(
      "input 'x': --input-shape 1,4,32,48 does not fit the model's [N, 3, height, width]",
    );
  });
});

describe("what cnnc cannot import, all at once", () => {
  it("lists every unsupported op type with its nodes, and every other problem, in one error", () => {
    const bytes = buildModel({
      input: ["N", 2, 4, 4],
      output: "y",
      nodes: [
        { op: "TopK", inputs: ["x", "k"], output: "t" },
        { op: "Relu", inputs: ["x"], output: "r", floats: { alpha: 1 } },
        { op: "Einsum", inputs: ["r", "r"], output: "e", attrs: { equation: "ij,jk" } },
        { op: "Einsum", inputs: ["e", "t"], output: "y", attrs: { equation: "ij,jk" } },
      ],
      initializers: [int64Init("k", [1])],
    });
    expect(() => importOnnx(bytes)).toThrow(
      [
        "3 problems:",
        "  Relu node 'n2' (inputs 'x'): attribute 'alpha' is not supported",
        "  TopK is not supported (1 node: 'n1')",
        "  Einsum is not supported (2 nodes: 'n3', 'n4')",
      ].join("\n"),
    );
  });
});
