// The op registry: one entry per op, read by every stage. What the type checker cannot say:
// every language layer and ONNX reader belongs to one op, the trait-derived sets are what the
// stages expect, one definition of "depthwise" serves every stage, legalisation leaves only
// core ops at every level, and the two ops added through the registry alone (PReLU, ELU) work
// in the language, the interpreter, ONNX both ways and (test/gpu/ops.test.ts) on the GPU.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { displayOp, summarize } from "../compiler/analysis/index.js";
import { defaultChoice, tunable } from "../compiler/codegen/index.js";
import { compileGraph } from "../compiler/compile.js";
import { interpret } from "../compiler/interp/index.js";
import { valueShapes } from "../compiler/ir/index.js";
import { layerNames } from "../compiler/lower/index.js";
import { exportOnnx, importedOnnxOps, importOnnx, ImportError } from "../compiler/onnx/index.js";
import {
  activationNames,
  activations,
  isDepthwise,
  opDef,
  opKinds,
  opsWith,
  registry,
} from "../compiler/ops/index.js";
import { layerSummary } from "../compiler/viz/graph-svg.js";
import { initWeights } from "../compiler/weights/index.js";
import { lowerText } from "./support/compile.js";
import { buildModel, floatInit } from "./support/onnx-build.js";

const net = (input: string, body: string) =>
  lowerText(`network T {\n  input x: ${input}\n  ${body.replace(/\n/g, "\n  ")}\n}`);

describe("the registry", () => {
  it("names each layer and each ONNX op type once, and every op is core or lowered", () => {
    const layers = opKinds.flatMap((k) => Object.keys(registry[k].cnn.layers));
    expect(new Set(layers).size).toBe(layers.length);
    expect([...layerNames].sort()).toEqual([...layers].sort());
    const onnx = opKinds.flatMap((k) => Object.keys(registry[k].fromOnnx));
    expect(new Set(onnx).size).toBe(onnx.length);
    expect([...importedOnnxOps]).toEqual([...onnx].sort());
    for (const k of opKinds) {
      const { emit, toOnnx } = registry[k];
      // an op without kernels is lowered away, and then never exported
      if (typeof emit === "object") expect([k, toOnnx]).toEqual([k, "legalized"]);
    }
  });

  it("has every layer in the language reference (docs/language.md)", () => {
    const doc = readFileSync("docs/language.md", "utf8");
    const missing = layerNames.filter((l) => !new RegExp(`[\`( ]${l}[\`( ]`).test(doc));
    expect(missing).toEqual([]);
  });

  it("derives the stages' op sets from traits", () => {
    expect([...opsWith((t) => t.fusedActivation === "epilogue")].sort()).toEqual([
      "conv2d",
      "dense",
    ]);
    expect([...opsWith((t) => t.alias)].sort()).toEqual(["dropout", "flatten", "reshape"]);
    expect([...opsWith((t) => t.inPlace)].sort()).toEqual(
      [
        ...["add", "affine", "batchnorm", "clip", "div", "maximum", "minimum", "mul", "prelu"],
        ...["scale", ...activationNames],
      ].sort(),
    );
    // every activation of the table is a unary op of its own
    for (const a of activationNames) expect(opDef(a).traits.family).toBe("activation");
  });

  it("has one definition of depthwise: summary, graph and kernel choice agree", () => {
    const g = net(
      "[8, 9, 9]",
      "let a = ca: conv(8, 3, groups=2, pad=1)\nlet b = x -> cb: dwconv(3, pad=1)\nlet c = x -> cc: dwconv(3, multiplier=2)\nconcat(a, b)",
    );
    const shapes = valueShapes(g);
    const seen = g.nodes
      .filter((n) => n.op === "conv2d")
      .map((n) => {
        const inputs = n.inputs.map((v) => shapes.get(v)!);
        const c = inputs[0]![0]!;
        return [
          n.name,
          n.op === "conv2d" && isDepthwise(n.attrs, c),
          displayOp(n, inputs),
          layerSummary(n, c).split(" ")[0],
          tunable(n, inputs[0]) ? defaultChoice(n, inputs[0]).kernel : "direct",
        ];
      });
    // a grouped conv is not depthwise (the graph once labelled any grouped conv dwconv)
    expect(seen).toEqual([
      ["ca", false, "conv2d", "conv", "direct"],
      ["cb", true, "dwconv2d", "dwconv", "depthwise"],
      ["cc", true, "dwconv2d", "dwconv", "depthwise"],
    ]);
    expect(
      layerSummary(
        g.nodes.find((n) => n.name === "ca")!,
        8,
      ),
    ).toBe("conv 3x3 8 g2");
  });

  it("legalises at every level: backends see no sepconv and no dropout, -O0 included", () => {
    const g = net("[4, 9, 9]", "sepconv(6, 3, pad=1) -> dropout(0.2) -> relu");
    for (const opt of [0, 1, 2] as const) {
      const { graph, plan } = compileGraph(g, { opt, seed: 1 });
      expect(graph.nodes.map((n) => n.op)).not.toContain("sepconv2d");
      expect(graph.nodes.map((n) => n.op)).not.toContain("dropout");
      expect(plan!.dispatches.length).toBeGreaterThan(0);
    }
    // the exporter legalises a graph handed to it directly
    expect(() => exportOnnx({ ...g, constants: initWeights(g, 1) })).not.toThrow();
  });
});

describe("PReLU and ELU, added through the registry alone", () => {
  it("lower from the language with their defaults and weights", () => {
    const g = net(
      "[3, 4, 5]",
      "prelu -> elu -> prelu(shared=true) -> elu(0.5) -> flatten -> prelu",
    );
    expect(g.nodes.map((n) => [n.op, n.attrs])).toEqual([
      ["prelu", { shared: false }],
      ["elu", { alpha: 1 }],
      ["prelu", { shared: true }],
      ["elu", { alpha: 0.5 }],
      ["flatten", {}],
      ["prelu", { shared: false }],
    ]);
    expect(g.weights.map((w) => [w.name, w.shape])).toEqual([
      ["prelu_1.weight", [3]],
      ["prelu_2.weight", [1]],
      ["prelu_3.weight", [60]],
    ]);
  });

  it("compute PyTorch's definitions on the reference", () => {
    const g = net("[2, 1, 2]", "prelu -> elu(0.5)");
    const weights = new Map([["prelu_1.weight", Float32Array.from([0.25, 0.5])]]);
    const x = [-2, 3, -4, 1];
    const y = interpret(g, weights, { x }, 1).get("elu_1")!;
    const prelu = [-0.5, 3, -2, 1];
    expect(Array.from(y)).toEqual(prelu.map((v) => (v > 0 ? v : 0.5 * Math.expm1(v))));
    expect(activations.elu.reference(-1, 1)).toBeCloseTo(Math.exp(-1) - 1, 15);
  });

  it("fuse ELU into a conv's epilogue, and count PReLU's slopes as parameters", () => {
    const g = net("[3, 6, 6]", "conv(4, 3) -> elu(0.3) -> prelu");
    const { graph } = compileGraph(g, { passesOnly: true });
    expect(graph.nodes.map((n) => [n.op, "act" in n.attrs ? n.attrs.act : "-"])).toEqual([
      ["conv2d", "elu"],
      ["prelu", "-"],
    ]);
    expect(graph.nodes[0]!.attrs).toMatchObject({ act: "elu", alpha: 0.3 });
    expect(summarize(g).totals.params).toBe(4 * 3 * 9 + 4 + 4);
  });

  it("import from ONNX as PyTorch exports them; a slope that fits no channel is refused", () => {
    const model = (slopeDims: number[], slope: number[]) =>
      buildModel({
        input: ["N", 3, 2, 2],
        output: "y",
        nodes: [
          { op: "PRelu", inputs: ["x", "s"], output: "p" },
          { op: "Elu", inputs: ["p"], output: "y", floats: { alpha: 0.7 } },
        ],
        initializers: [floatInit("s", slopeDims, slope)],
      });
    const g = importOnnx(model([3, 1, 1], [0.1, 0.2, 0.3]));
    expect(g.nodes.map((n) => [n.op, n.attrs])).toEqual([
      ["prelu", { shared: false }],
      ["elu", { alpha: 0.7 }],
    ]);
    expect(Array.from(g.constants!.get(g.nodes[0]!.weights[0]!)!)).toEqual(
      [0.1, 0.2, 0.3].map(Math.fround),
    );
    expect(importOnnx(model([1], [0.25])).nodes[0]!.attrs).toEqual({ shared: true });
    // [3] broadcasts along W in ONNX, not along channels: refused, not misread
    expect(() => importOnnx(model([3], [0.1, 0.2, 0.3]))).toThrow(ImportError);
    expect(() => importOnnx(model([2, 1, 1], [0.1, 0.2]))).toThrow(
      /neither one value nor one per channel/,
    );
  });
});

describe("ONNX patterns check every constant they assume", () => {
  const gelu = (add: number, half: number) =>
    buildModel({
      input: ["N", 3],
      output: "y",
      nodes: [
        { op: "Div", inputs: ["x", "r2"], output: "d" },
        { op: "Erf", inputs: ["d"], output: "e" },
        { op: "Add", inputs: ["e", "one"], output: "a" },
        { op: "Mul", inputs: ["x", "a"], output: "m" },
        { op: "Mul", inputs: ["m", "half"], output: "y" },
      ],
      initializers: [
        floatInit("r2", [], [Math.SQRT2]),
        floatInit("one", [], [add]),
        floatInit("half", [], [half]),
      ],
    });
  it("x / sqrt2 -> Erf -> +1 -> *x -> *0.5 is gelu", () => {
    expect(importOnnx(gelu(1, 0.5)).nodes.map((n) => n.op)).toEqual(["gelu"]);
  });
  it("with +2 or *0.25 it is not gelu, and Erf alone is refused, not guessed", () => {
    expect(() => importOnnx(gelu(2, 0.5))).toThrow(ImportError);
    expect(() => importOnnx(gelu(1, 0.25))).toThrow(ImportError);
  });
});
