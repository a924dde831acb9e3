// Kernel choice (compiler/codegen/choice.ts): what `cnnc build` picks by default, what
// `cnnc tune` may pick, and a choice that does not apply is an error naming the layer.
import { describe, expect, it } from "vitest";
import {
  candidates,
  choiceName,
  CodegenError,
  defaultChoice,
  defaultTiles,
  planGraph,
  tunable,
} from "../compiler/codegen/index.js";
import { valueShapes } from "../compiler/ir/index.js";
import { runPasses } from "../compiler/passes/index.js";
import { levels } from "../compiler/compile.js";
import { lowerFile, lowerText } from "./support/compile.js";

const resnet = runPasses(lowerFile("examples/resnet18.cnn"), levels[2].passes);
const shapes = valueShapes(resnet);
const mobilenet = runPasses(lowerFile("examples/mobilenet_v1.cnn"), levels[2].passes);
const mobileShapes = valueShapes(mobilenet);
const chosenIn = (graph: typeof resnet, name: string) => {
  const node = graph.nodes.find((n) => n.name === name)!;
  return choiceName(defaultChoice(node, valueShapes(graph).get(node.inputs[0]!)));
};
const chosen = (name: string) => {
  const node = resnet.nodes.find((n) => n.name === name)!;
  return choiceName(defaultChoice(node, shapes.get(node.inputs[0]!)));
};

describe("the defaults for CPU emulations (--target cpu)", () => {
  const cpu = (graph: typeof resnet, name: string) => {
    const node = graph.nodes.find((n) => n.name === name)!;
    return choiceName(defaultChoice(node, valueShapes(graph).get(node.inputs[0]!), "cpu"));
  };
  it("takes the cost model's first: register-blocked convs and a 16-thread GEMV on llvmpipe", () => {
    expect(cpu(mobilenet, "dwsep_1.conv_1")).toMatch(/^pointwise /); // 1x1 conv
    expect(cpu(mobilenet, "dwsep_1.dwconv_1")).toMatch(/^depthwise \d+px$/);
    expect(cpu(resnet, "conv1")).toMatch(/^blocked /); // 7x7 window, stride 2
    expect(cpu(resnet, "layer1.1.basic_1.branch_1.conv_1")).toMatch(/^blocked /); // 56x56
    expect(cpu(resnet, "layer2.down_1.branch_1.conv_1")).toMatch(/^blocked /); // stride 2
    expect(cpu(resnet, "layer4.basic_1.branch_1.conv_2")).toMatch(/^blocked /); // 7x7 map
    expect(cpu(resnet, "fc")).toMatch(/^gemv 16t\//);
    // a GPU's defaults are the rules: no measurements of the class in the repository
    expect(chosen("layer1.1.basic_1.branch_1.conv_1")).toBe("winograd 64x64x16/16x16");
    // every CPU default is one of the layer's candidates (what tune measures and tests run)
    for (const graph of [resnet, mobilenet]) {
      const s = valueShapes(graph);
      for (const n of graph.nodes.filter((n) => tunable(n, s.get(n.inputs[0]!)))) {
        const list = candidates(n, s.get(n.inputs[0]!), 1, true, "cpu").map(choiceName);
        expect(list, n.name).toContain(cpu(graph, n.name));
        expect(list[0], n.name).toBe(cpu(graph, n.name)); // tune's reference
      }
    }
  });
});

describe("default kernel choice", () => {
  it("Winograd for 3x3 stride-1 convs with channels and tiles enough, the GEMM otherwise", () => {
    expect(chosen("layer1.1.basic_1.branch_1.conv_1")).toBe("winograd 64x64x16/16x16"); // 64 ch, 56x56
    expect(chosen("layer3.basic_1.branch_1.conv_2")).toBe("winograd 64x64x16/16x16"); // 256 ch, 14x14
    expect(chosen("layer4.basic_1.branch_1.conv_2")).toBe("winograd 64x64x16/16x16"); // 7x7: 16 tiles
    expect(chosen("layer2.down_1.branch_1.conv_1")).toBe("gemm 64x64x16/16x16"); // stride 2
    expect(chosen("conv1")).toBe("gemm 64x64x16/16x16"); // 7x7 window
    const small = lowerText(
      "network S {\n  input x: [64, 6, 6]\n  conv(64, 3, pad=1)\n  output last\n}\n",
    );
    const conv = small.nodes[0]!;
    expect(choiceName(defaultChoice(conv, [64, 6, 6]))).toBe("gemm 64x64x16/16x16"); // 9 tiles
  });
  it("split-K among the candidates of long-K convs over small maps, never the default", () => {
    const names = (name: string) => {
      const node = resnet.nodes.find((n) => n.name === name)!;
      return candidates(node, shapes.get(node.inputs[0]!)).map(choiceName);
    };
    // 256 -> 512 channels, 3x3, stride 2, 7x7 output: K = 2304
    const small = names("layer4.down_1.branch_1.conv_1");
    expect(small.filter((c) => c.includes("split-k"))).toEqual([
      "gemm 64x64x16/16x16 split-k 2",
      "gemm 64x64x16/16x16 split-k 4",
      "gemm 64x64x16/16x16 split-k 8",
      "gemm 64x32x16/8x16 split-k 2",
      "gemm 64x32x16/8x16 split-k 4",
      "gemm 64x32x16/8x16 split-k 8",
    ]);
    expect(small[0]).not.toContain("split-k");
    expect(names("layer1.1.basic_1.branch_1.conv_1").some((c) => c.includes("split-k"))).toBe(
      false,
    ); // 56x56
    expect(names("conv1").some((c) => c.includes("split-k"))).toBe(false); // K = 147
  });
  it("the pointwise kernel among the candidates of 1x1 stride-1 unpadded convs, never the default", () => {
    const pointwise = (text: string, input: readonly number[]) => {
      const node = lowerText(
        `network S {\n  input x: [${input.join(", ")}]\n  ${text}\n  output last\n}\n`,
      ).nodes[0]!;
      return candidates(node, input)
        .map(choiceName)
        .filter((c) => c.startsWith("pointwise"));
    };
    expect(pointwise("conv(64, 1)", [32, 7, 7])).toEqual([
      "pointwise 8x8/8x8",
      "pointwise 16x8/8x4",
      "pointwise 8x8/16x4",
      "pointwise 8x8/8x2",
      "pointwise 4x4/8x8",
    ]);
    expect(pointwise("conv(64, 1)", [3, 7, 7])).toEqual([]); // C % 4 != 0
    expect(pointwise("conv(64, 1, stride=2)", [32, 8, 8])).toEqual([]);
    expect(pointwise("conv(64, 1, pad=1)", [32, 8, 8])).toEqual([]);
    expect(pointwise("conv(64, 3)", [32, 8, 8])).toEqual([]);
    expect(pointwise("conv(64, 1, groups=2)", [32, 8, 8])).toEqual([]);
    const mobile = mobilenet.nodes.filter((n) => n.op === "conv2d");
    for (const n of mobile) {
      const c = candidates(n, mobileShapes.get(n.inputs[0]!));
      expect(choiceName(c[0]!)).not.toMatch(/^pointwise/);
    }
  });
  it("the GEMV for dense layers; the GEMM among a dense layer's candidates from batch 8", () => {
    expect(chosen("fc")).toBe("gemv 64t/4r/1b");
    const fc = resnet.nodes.find((n) => n.name === "fc")!;
    expect(candidates(fc, [512], 1).every((c) => c.kernel === "gemv")).toBe(true);
    expect(candidates(fc, [512], 8).some((c) => c.kernel === "gemm")).toBe(true);
  });
  it("the row-blocked kernel for depthwise convs, its outputs per thread tunable", () => {
    const depthwise = mobilenet.nodes.filter((n) => n.op === "conv2d" && n.attrs.g > 1);
    expect(depthwise).toHaveLength(13);
    for (const n of depthwise) {
      const input = mobileShapes.get(n.inputs[0]!);
      expect(choiceName(defaultChoice(n, input))).toBe("depthwise 4px");
      expect(candidates(n, input).map(choiceName)).toEqual([
        "depthwise 4px",
        "depthwise 1px",
        "depthwise 2px",
        "depthwise 8px",
        "depthwise 16px",
      ]);
    }
    // A grouped conv that is not depthwise, or a depthwise one with replicate padding, has
    // one kernel: the direct one.
    const other = lowerText(
      "network N {\n  input x: [8, 10, 10]\n  conv(16, 3, groups=4)\n" +
        "  dwconv(3, pad=1, padmode=replicate)\n  output last\n}\n",
    );
    const otherShapes = valueShapes(other);
    for (const n of other.nodes) expect(tunable(n, otherShapes.get(n.inputs[0]!))).toBe(false);
  });
  it("the default is every tunable layer's first candidate", () => {
    for (const [graph, values] of [
      [resnet, shapes],
      [mobilenet, mobileShapes],
    ] as const) {
      for (const n of graph.nodes) {
        const input = values.get(n.inputs[0]!);
        if (!tunable(n, input)) continue;
        expect(choiceName(candidates(n, input)[0]!)).toBe(choiceName(defaultChoice(n, input)));
      }
    }
  });
  it("the plan gives a Winograd layer three dispatches and its transformed weight", () => {
    const plan = planGraph(resnet, { planMemory: true });
    const layer = plan.dispatches.filter((d) => d.label === "layer1.1.basic_1.branch_1.conv_1");
    expect(layer).toHaveLength(3);
    const w = plan.weights.find(
      (x) => x.transform === "winograd" && x.source.startsWith("layer1.1.basic_1.branch_1.conv_1"),
    );
    expect(w?.shape).toEqual([16, 64, 64]);
  });
});

describe("a choice that does not apply", () => {
  it("is a CodegenError naming the layer and kernel", () => {
    const choices = new Map([
      ["layer2.down_1.branch_1.conv_1", { kernel: "winograd", tiles: defaultTiles } as const],
    ]);
    expect(() => planGraph(resnet, { choices })).toThrow(CodegenError);
    expect(() => planGraph(resnet, { choices })).toThrow(
      "kernel 'winograd 64x64x16/16x16' does not apply to layer 'layer2.down_1.branch_1.conv_1' (conv2d)",
    );
  });
});
