// Layout assignment (compiler/codegen/layout.ts): which values share a layout, which must stay
// NCHW, and how the layers' choices decide the rest; the tuner's candidates in both layouts.
import { describe, expect, it } from "vitest";
import {
  assignLayouts,
  candidates,
  choiceName,
  concatSlices,
  defaultChoice,
  defaultTiles,
  layoutGroups,
  planGraph,
  type KernelChoice,
} from "../compiler/codegen/index.js";
import { valueShapes, type Graph, type Node } from "../compiler/ir/index.js";
import { runPasses } from "../compiler/passes/index.js";
import { levels } from "../compiler/compile.js";
import { groupsFasterNhwc } from "../compiler/tune.js";
import { lowerFile, lowerText } from "./support/compile.js";

const net = lowerText(`network L {
  input x: [3, 16, 16]
  let h = conv(8, 3, pad=1) -> bn -> relu
  let a = h -> conv(8, 3, pad=1)
  let b = h -> conv(8, 1)
  let s = add(a, b) -> relu
  let u = upsample(2)
  let g = globalavgpool
  let m = mul(s, g)
  conv(8, 3, pad=1)
  flatten
  dense(4)
  output u, last
}`);

/** The values stored NHWC when every conv asks for NHWC (`want`) or none does. */
function nhwcValues(graph: Graph, want: (n: Node) => "nhwc" | "nchw" | undefined): string[] {
  const layouts = assignLayouts(graph, layoutGroups(graph), want);
  return [...layouts].filter(([, l]) => l === "nhwc").map(([v]) => v);
}

describe("layout groups", () => {
  it("ties elementwise chains into one group and pins what must stay NCHW", () => {
    const { groupOf, free } = layoutGroups(net);
    const group = (v: string) => groupOf.get(v)!;
    // conv -> bn -> relu: one walk, one layout
    expect(group("bn_1")).toBe(group("conv_1"));
    expect(group("relu_1")).toBe(group("conv_1"));
    // a same-shape add ties both operands and its result (and the relu after it)
    expect(new Set(["conv_2", "conv_3", "add_1", "relu_2"].map(group)).size).toBe(1);
    // the input, the upsample's operand (its kernel is NCHW only), the broadcasting mul's
    // operands and result, the flatten's operand: pinned
    expect(free.has(group("x"))).toBe(false);
    expect(free.has(group("relu_2"))).toBe(false); // read by upsample and the mul
    expect(free.has(group("mul_1"))).toBe(false);
    expect(free.has(group("conv_4"))).toBe(false); // read by the flatten
    expect(free.has(group("conv_1"))).toBe(true);
    // a [C, 1, 1] value is the same bytes in either layout: never NHWC
    expect(free.has(group("globalavgpool_1"))).toBe(false);
  });
  it("ties a conv writing into a concat's slice to the concat", () => {
    const g = lowerText(`network C {
  input x: [4, 8, 8]
  let t = conv(8, 3, pad=1)
  let a = t -> conv(4, 1)
  let b = t -> conv(4, 3, pad=1)
  concat(a, b)
  conv(4, 1)
  output last
}`);
    const { groupOf } = layoutGroups(g, concatSlices(g));
    expect(groupOf.get("conv_2")).toBe(groupOf.get("concat_1"));
    expect(groupOf.get("conv_3")).toBe(groupOf.get("concat_1"));
    expect(layoutGroups(g).groupOf.get("conv_2")).not.toBe(groupOf.get("concat_1"));
  });
});

describe("layout assignment", () => {
  it("follows the conv readers' votes, within the free groups", () => {
    expect(nhwcValues(net, () => "nchw")).toEqual([]);
    expect(nhwcValues(net, () => undefined)).toEqual([]);
    // conv_1's group is read by conv_2 and conv_3: both ask, so it is NHWC
    expect(nhwcValues(net, () => "nhwc")).toEqual(["conv_1", "bn_1", "relu_1"]);
    // one reader for and one against: a tie stays NCHW
    expect(nhwcValues(net, (n) => (n.name === "conv_2" ? "nhwc" : "nchw"))).toEqual([]);
  });
  it("`prefer` overrides the votes in the free groups only", () => {
    const groups = layoutGroups(net);
    const all = assignLayouts(net, groups, () => "nchw", "nhwc");
    expect([...all].filter(([, l]) => l === "nhwc").map(([v]) => v)).toEqual([
      "conv_1",
      "bn_1",
      "relu_1",
    ]);
    const none = assignLayouts(net, groups, () => "nhwc", "nchw");
    expect([...none].every(([, l]) => l === "nchw")).toBe(true);
  });
  it("the plan records each value's layout and permutes the weights NHWC GEMMs read", () => {
    const graph = runPasses(lowerFile("examples/resnet18.cnn"), levels[2].passes);
    const shapes = valueShapes(graph);
    const choices = new Map<string, KernelChoice>();
    for (const n of graph.nodes.filter((n) => n.op === "conv2d")) {
      const c = defaultChoice(n, shapes.get(n.inputs[0]!));
      if (c.kernel !== "gemv") choices.set(n.name, { ...c, layout: "nhwc" });
    }
    const plan = planGraph(graph, { choices, planMemory: true, eliminateConcat: true });
    const nhwc = plan.values.filter((v) => v.layout === "nhwc").map((v) => v.name);
    // every value a conv reads, from the stem's max pool on: 16 of them
    expect(nhwc).toHaveLength(16);
    expect(nhwc).toContain("maxpool_1");
    expect(nhwc).toContain("layer3.down_1.branch_2.conv_1");
    // read by no conv, so nothing asks: the stem conv's output (read by the max pool) and the
    // last block's (read by the global pool); the input is pinned
    const names = plan.values.map((v) => v.name);
    expect(names).toEqual(expect.arrayContaining(["conv1", "layer4.basic_1.branch_1.conv_2"]));
    expect(nhwc).not.toContain("conv1");
    expect(nhwc).not.toContain("layer4.basic_1.branch_1.conv_2");
    expect(plan.values.find((v) => v.name === "x")?.layout).toBeUndefined();
    // the stride-2 3x3 GEMMs read NHWC, so their weights are permuted; 1x1 ones need not be
    const permuted = plan.weights.filter((w) => w.transform === "hwc").map((w) => w.shape);
    expect(permuted).toEqual([
      [128, 3, 3, 64],
      [256, 3, 3, 128],
      [512, 3, 3, 256],
    ]);
  });
});

describe("layout candidates", () => {
  it("a conv whose input may be NHWC is measured reading either layout", () => {
    const conv = net.nodes.find((n) => n.name === "conv_2")!;
    const nchwOnly = candidates(conv, [8, 16, 16]).map(choiceName);
    const both = candidates(conv, [8, 16, 16], 1, true).map(choiceName);
    // the register-blocked kernels read NCHW alone; every other kernel has an NHWC form
    const nhwcForms = nchwOnly.filter((n) => !/^(blocked|pointwise) /.test(n));
    expect(nhwcForms.length).toBeLessThan(nchwOnly.length);
    expect(both).toHaveLength(nchwOnly.length + nhwcForms.length);
    expect(both.slice(0, nchwOnly.length)).toEqual(nchwOnly);
    expect(both.slice(nchwOnly.length)).toEqual(nhwcForms.map((n) => `${n} nhwc`));
    const dense = net.nodes.find((n) => n.op === "dense")!;
    expect(candidates(dense, [512], 1, true).every((c) => !choiceName(c).endsWith("nhwc"))).toBe(
      true,
    );
  });
});

describe("cnnc tune's layout decision", () => {
  it("a group is NHWC when its conv readers' best kernels take less time in all reading it", () => {
    const { groupOf } = layoutGroups(net);
    const node = (name: string) => net.nodes.find((n) => n.name === name)!;
    const gemm = (layout?: "nhwc"): KernelChoice => ({
      kernel: "gemm",
      tiles: defaultTiles,
      ...(layout ? { layout } : {}),
    });
    const winograd: KernelChoice = { kernel: "winograd", tiles: defaultTiles };
    // conv_2 and conv_3 both read relu_1's group
    const times = (a: [number, number, number], b: [number, number]) => [
      {
        nodes: [node("conv_2")],
        timings: [
          [gemm(), a[0]],
          [winograd, a[1]],
          [gemm("nhwc"), a[2]],
        ] as const,
      },
      {
        nodes: [node("conv_3")],
        timings: [
          [gemm(), b[0]],
          [gemm("nhwc"), b[1]],
        ] as const,
      },
    ];
    const group = groupOf.get("relu_1")!;
    // each reader's fastest per layout: conv_2 3 (Winograd) vs 4, conv_3 5 vs 2: 8 vs 6
    expect(groupsFasterNhwc(times([9, 3, 4], [5, 2]), groupOf)).toEqual(new Set([group]));
    // 8 vs 9: NCHW
    expect(groupsFasterNhwc(times([9, 3, 4], [5, 5]), groupOf)).toEqual(new Set());
    // a reader measured in one layout only has no say
    const one = [{ nodes: [node("conv_3")], timings: [[gemm("nhwc"), 1]] as const }];
    expect(groupsFasterNhwc(one, groupOf)).toEqual(new Set());
  });
});
