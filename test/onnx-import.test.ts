// ONNX import: every example and op case survives export -> import -> .cnn -> lowering with the
// same summary and outputs; models built node by node cover what the exporter never writes
// (checked against ONNX Runtime); bad models are clear errors naming the node.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { summarize } from "../compiler/analysis/index.js";
import { interpret } from "../compiler/interp/index.js";
import type { Graph } from "../compiler/ir/index.js";
import { compileFrontend, memoryHost } from "../compiler/lower/index.js";
import { exportOnnx, importOnnx, ImportError, printCnn } from "../compiler/onnx/index.js";
import { bindWeights, initWeights, random, randomInputs } from "../compiler/weights/index.js";
import { lowerText } from "./support/compile.js";
import { runOnnx } from "./support/onnx.js";
import { buildModel, floatInit, int64Init } from "./support/onnx-build.js";
import { opCases } from "./support/op-cases.js";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

const inputsFor = (graph: Graph, batch: number, seed: number): Record<string, Float32Array> =>
  randomInputs(graph, batch, seed);

function maxRelError(a: Map<string, Float64Array>, b: Map<string, Float64Array>): number {
  let worst = 0;
  const bs = [...b.values()];
  [...a.values()].forEach((ref, k) => {
    const out = bs[k]!;
    expect(out.length).toBe(ref.length);
    const scale = Math.max(1, ...Array.from(ref, Math.abs));
    for (let i = 0; i < ref.length; i++)
      worst = Math.max(worst, Math.abs(out[i]! - ref[i]!) / scale);
  });
  return worst;
}

/** export -> import -> printed .cnn -> lowered again with the imported weights. */
function roundTrip(
  text: string,
  seed: number,
): { before: Graph; after: Graph; weights: Map<string, Float32Array> } {
  const lowered = lowerText(text);
  const before = { ...lowered, constants: initWeights(lowered, seed) };
  const imported = importOnnx(exportOnnx(before));
  const cnn = printCnn(imported, "round trip");
  const r = compileFrontend("i.cnn", memoryHost({ "i.cnn": cnn }));
  expect(r.diagnostics, cnn).toEqual([]);
  const tensors = new Map(
    imported.weights.map((w) => [
      w.name,
      { shape: w.shape, data: imported.constants!.get(w.name)! },
    ]),
  );
  return { before, after: r.graph!, weights: bindWeights(r.graph!, tensors) };
}

describe("import(export(net)) is the same network", () => {
  for (const file of readdirSync("examples").filter((f) => f.endsWith(".cnn"))) {
    it(file, { timeout: 120_000 }, () => {
      const text = readFileSync(`examples/${file}`, "utf8").replace(
        "input x: [3, 224, 224]",
        "input x: [3, 64, 64]",
      );
      const { before, after, weights } = roundTrip(text, 5);
      const [a, b] = [summarize(before).totals, summarize(after).totals];
      expect([b.params, b.bnStats, b.macs]).toEqual([a.params, a.bnStats, a.macs]);
      const x = inputsFor(before, 2, 1);
      const rename = Object.fromEntries(
        after.inputs.map((i, k) => [i.name, x[before.inputs[k]!.name]!]),
      );
      expect(
        maxRelError(
          interpret(before, before.constants!, x, 2),
          interpret(after, weights, rename, 2),
        ),
      ).toBeLessThan(1e-6);
    });
  }
  for (const [name, input, body] of opCases) {
    if (name.startsWith("lrn")) continue;
    it(`op case: ${name}`, () => {
      const { before, after, weights } = roundTrip(
        `network T {\n  input x: ${input}\n${body}\n}`,
        3,
      );
      const x = inputsFor(before, 3, 2);
      expect(
        maxRelError(interpret(before, before.constants!, x, 3), interpret(after, weights, x, 3)),
      ).toBeLessThan(1e-6);
    });
  }
});

/** The imported model against ONNX Runtime running the very same bytes. */
async function agreesWithOrt(bytes: Uint8Array, batch = 2): Promise<Graph> {
  const graph = importOnnx(bytes);
  const x = inputsFor(graph, batch, 4);
  const want = await runOnnx(bytes, graph, x, batch);
  const got = interpret(graph, graph.constants!, x, batch);
  for (const o of graph.outputs) {
    const ref = want[o.name] ?? Object.values(want)[0]!;
    const out = got.get(o.name)!;
    const scale = Math.max(1, ...Array.from(ref, Math.abs));
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(out[i]! - ref[i]!));
    expect(err <= 1e-4 || err / scale <= 1e-3, `max error ${err}`).toBe(true);
  }
  return graph;
}

const rand = random(9);
const values = (n: number): number[] => Array.from({ length: n }, () => rand() * 2 - 1);

describe("ONNX forms the exporter never writes", () => {
  it("Reshape to flat, then MatMul + Add as one dense layer", async () => {
    const g = await agreesWithOrt(
      buildModel({
        input: ["N", 2, 3, 4],
        output: "y",
        nodes: [
          { op: "Reshape", inputs: ["x", "shape"], output: "f" },
          { op: "MatMul", inputs: ["f", "w"], output: "m" },
          { op: "Add", inputs: ["m", "b"], output: "y" },
        ],
        initializers: [
          int64Init("shape", [0, -1]),
          floatInit("w", [24, 5], values(120)),
          floatInit("b", [5], values(5)),
        ],
      }),
    );
    expect(g.nodes.map((n) => n.op)).toEqual(["flatten", "dense"]);
  });

  it("Conv with auto_pad SAME_UPPER, Clip(0, 6), Gemm without transB and with alpha, beta", async () => {
    const g = await agreesWithOrt(
      buildModel({
        input: ["N", 3, 7, 9],
        output: "y",
        nodes: [
          {
            op: "Conv",
            inputs: ["x", "w"],
            output: "c",
            attrs: { auto_pad: "SAME_UPPER", strides: [2, 2], kernel_shape: [3, 3] },
          },
          { op: "Clip", inputs: ["c", "lo", "hi"], output: "r" },
          { op: "Flatten", inputs: ["r"], output: "f", attrs: { axis: 1 } },
          { op: "Gemm", inputs: ["f", "g", "gb"], output: "y", floats: { alpha: 0.5, beta: 2 } },
        ],
        initializers: [
          floatInit("w", [4, 3, 3, 3], values(108)),
          floatInit("lo", [], [0]),
          floatInit("hi", [], [6]),
          floatInit("g", [80, 6], values(480)),
          floatInit("gb", [6], values(6)),
        ],
      }),
    );
    expect(g.nodes.map((n) => n.op)).toEqual(["conv2d", "relu6", "flatten", "dense"]);
  });

  it("Resize (nearest, by sizes) and the Gelu op of opset 20", async () => {
    const g = await agreesWithOrt(
      buildModel({
        opset: 20,
        input: ["N", 2, 3, 5],
        output: "y",
        nodes: [
          {
            op: "Resize",
            inputs: ["x", "", "", "sizes"],
            output: "u",
            attrs: {
              mode: "nearest",
              coordinate_transformation_mode: "asymmetric",
              nearest_mode: "floor",
            },
          },
          { op: "Gelu", inputs: ["u"], output: "y" },
        ],
        initializers: [int64Init("sizes", [1, 2, 6, 15])],
      }),
    );
    expect(g.nodes.map((n) => n.op)).toEqual(["upsample", "gelu"]);
  });
});

describe("bad ONNX input", () => {
  const tiny = (
    nodes: Parameters<typeof buildModel>[0]["nodes"],
    extra: Partial<Parameters<typeof buildModel>[0]> = {},
  ) => buildModel({ input: ["N", 2, 4, 4], output: "y", nodes, ...extra });

  it("names an unsupported op, its node and inputs", () => {
    const bytes = tiny([
      { op: "Einsum", inputs: ["x", "x"], output: "y", attrs: { equation: "ij,jk" } },
    ]);
    expect(() => importOnnx(bytes)).toThrow(
      new ImportError("Einsum is not supported (1 node: 'n1')"),
    );
  });

  it("refuses what ONNX Runtime refuses rather than guess: unread attributes, kernel_shape, domains", () => {
    // A misspelt alpha once imported as the default 0.01: every attribute a reader does not
    // ask for is refused, unless it cannot change what the op computes.
    const leaky = (attrs: Record<string, number>, floats: Record<string, number>) =>
      tiny([{ op: "LeakyRelu", inputs: ["x"], output: "y", attrs, floats }]);
    expect(() => importOnnx(leaky({}, { ampha: 0.2 }))).toThrow(
      /LeakyRelu node 'n1' \(inputs 'x'\): attribute 'ampha' is not supported \(cnnc reads alpha\)/,
    );
    expect(() => importOnnx(leaky({ alpha: 2 }, {}))).toThrow(
      /attribute alpha is of type INT, ONNX defines it as FLOAT/,
    );
    expect(importOnnx(leaky({}, { alpha: 0.2 })).nodes[0]!.attrs).toMatchObject({ alpha: 0.2 });
    const dropout = tiny([{ op: "Dropout", inputs: ["x"], output: "y", floats: { ratio: 0.5 } }], {
      opset: 11,
    });
    expect(importOnnx(dropout).nodes).toHaveLength(0); // (ratio: training only)
    const conv = (kernel: number[]) =>
      tiny([{ op: "Conv", inputs: ["x", "w"], output: "y", attrs: { kernel_shape: kernel } }], {
        initializers: [floatInit("w", [1, 2, 3, 3], values(18))],
      });
    expect(importOnnx(conv([3, 3])).nodes).toHaveLength(1);
    expect(() => importOnnx(conv([5, 5]))).toThrow(/kernel_shape \[5, 5\] is not the weight's 3x3/);
    const other = onnx.ModelProto.decode(tiny([{ op: "Relu", inputs: ["x"], output: "y" }]));
    other.graph!.node![0]!.domain = "com.example";
    expect(() => importOnnx(onnx.ModelProto.encode(other).finish())).toThrow(
      /ops of the domain 'com.example' are not supported/,
    );
    const int64 = onnx.ModelProto.decode(tiny([{ op: "Relu", inputs: ["x"], output: "y" }]));
    int64.graph!.input![0]!.type!.tensorType!.elemType = 7;
    expect(() => importOnnx(onnx.ModelProto.encode(int64).finish())).toThrow(
      /input 'x': it is INT64; cnnc takes float inputs/,
    );
    const none = onnx.ModelProto.decode(tiny([{ op: "Relu", inputs: ["x"], output: "y" }]));
    none.graph!.output = [];
    expect(() => importOnnx(onnx.ModelProto.encode(none).finish())).toThrow(
      /the graph has no outputs/,
    );
    // dims of 2^40 elements with a little data: refused before anything is allocated
    const huge = tiny([{ op: "Conv", inputs: ["x", "w"], output: "y" }], {
      initializers: [floatInit("w", [2 ** 20, 2 ** 20, 1, 1], values(4))],
    });
    expect(() => importOnnx(huge)).toThrow(/4 values for a shape of 1099511627776/);
  });

  it("refuses what is not ONNX, a dynamic spatial shape, an old opset, missing external data", () => {
    expect(() => importOnnx(new Uint8Array([1, 2, 3, 4, 5, 6]))).toThrow(/not an ONNX model/);
    const dynamic = buildModel({
      input: ["N", 2, "H", 4],
      output: "y",
      nodes: [{ op: "Relu", inputs: ["x"], output: "y" }],
    });
    expect(() => importOnnx(dynamic)).toThrow(/dimension 2 is dynamic \('H'\)/);
    expect(() =>
      importOnnx(tiny([{ op: "Relu", inputs: ["x"], output: "y" }], { opset: 5 })),
    ).toThrow(/opset 5 is not supported \(6 to 21 are\)/);
    const external = tiny([{ op: "Conv", inputs: ["x", "w"], output: "y" }], {
      initializers: [
        {
          name: "w",
          dims: [1, 2, 1, 1],
          dataType: 1,
          dataLocation: 1,
          externalData: [{ key: "location", value: "w.bin" }],
        },
      ],
    });
    expect(() => importOnnx(external)).toThrow(
      /external data 'w.bin' is not a readable file below the model's folder/,
    );
    // data past the end of its file, or a range the file does not hold, is refused
    const shortFile = { readExternal: () => new Uint8Array(6) };
    expect(() => importOnnx(external, shortFile)).toThrow(
      /6 bytes of data for 2 values of 4 bytes/,
    );
    const far = tiny([{ op: "Conv", inputs: ["x", "w"], output: "y" }], {
      initializers: [
        {
          name: "w",
          dims: [1, 2, 1, 1],
          dataType: 1,
          dataLocation: 1,
          externalData: [
            { key: "location", value: "w.bin" },
            { key: "offset", value: "4" },
            { key: "length", value: "8" },
          ],
        },
      ],
    });
    expect(() => importOnnx(far, shortFile)).toThrow(
      /external data \[4, \+8\) lies outside 'w.bin' \(6 bytes\)/,
    );
    expect(() =>
      importOnnx(tiny([{ op: "LRN", inputs: ["x"], output: "y", attrs: { size: 4 } }])),
    ).toThrow(/even size/);
    // taps at -1 and 2 of a 2-pixel row: a window of padding alone has no maximum
    const dilated = tiny(
      [
        {
          op: "MaxPool",
          inputs: ["x"],
          output: "y",
          attrs: { kernel_shape: [2, 2], dilations: [3, 3], pads: [1, 1, 1, 1] },
        },
      ],
      { input: ["N", 2, 2, 2] },
    );
    expect(() => importOnnx(dilated)).toThrow(
      "MaxPool node 'n1' (inputs 'x'): the window 2x2 dilated by 3x3 takes only padding at output row 0",
    );
    const dilatedAverage = tiny(
      [
        {
          op: "AveragePool",
          inputs: ["x"],
          output: "y",
          attrs: { kernel_shape: [2, 2], dilations: [2, 2] },
        },
      ],
      { opset: 19 },
    );
    expect(() => importOnnx(dilatedAverage)).toThrow(/dilated average pooling is not supported/);
  });

  it("refuses attributes out of range instead of computing with them", () => {
    const conv = (attrs: Record<string, number[]>) =>
      tiny([{ op: "Conv", inputs: ["x", "w"], output: "y", attrs }], {
        initializers: [
          floatInit(
            "w",
            [3, 2, 3, 3],
            Array.from({ length: 54 }, (_, i) => i / 54),
          ),
        ],
      });
    // dilation 0 once imported as a 1x1 window: a wrong answer
    expect(() => importOnnx(conv({ dilations: [0, 0] }))).toThrow(/must be positive integers/);
    expect(() => importOnnx(conv({ strides: [0, 1] }))).toThrow(/must be positive integers/);
    expect(() => importOnnx(conv({ pads: [-1, 0, 0, 0] }))).toThrow(/negative pads/);
    const leaky = tiny([{ op: "LeakyRelu", inputs: ["x"], output: "y", floats: { alpha: NaN } }]);
    expect(() => importOnnx(leaky)).toThrow(/attribute alpha is NaN/);
  });

  it("reads tensor data exactly as its type and shape say, or refuses it", () => {
    const withWeight = (w: object) =>
      tiny([{ op: "Conv", inputs: ["x", "w"], output: "y" }], {
        initializers: [{ name: "w", dims: [1, 2, 1, 1], ...w }],
      });
    // float16 values travel as int32 bit patterns: 0x3c00 is 1, 0xc000 is -2
    const half = importOnnx(withWeight({ dataType: 10, int32Data: [0x3c00, 0xc000] }));
    expect(Array.from(half.constants!.get("n1.weight")!)).toEqual([1, -2]);
    const raw = (bytes: number) => ({ dataType: 1, rawData: new Uint8Array(bytes) });
    expect(() => importOnnx(withWeight(raw(12)))).toThrow(
      /12 bytes of data for 2 values of 4 bytes/,
    );
    expect(() => importOnnx(withWeight(raw(4)))).toThrow(/4 bytes of data for 2 values/);
    expect(() => importOnnx(withWeight({ dataType: 1, floatData: [1] }))).toThrow(
      /1 values for a shape of 2/,
    );
    expect(() => importOnnx(withWeight({ dataType: 8, stringData: [] }))).toThrow(
      /data type STRING is not supported/,
    );
  });
});
