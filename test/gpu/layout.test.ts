// Activations stored NHWC (compiler/codegen/layout.ts): every kernel that reads or writes that
// layout, under every variant of its choice, agrees with the reference; so do networks whose
// layouts change from layer to layer, with NCHW inputs and outputs at the edges.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  defaultChoice,
  depthwiseRuns,
  planGraph,
  splitKApplies,
  tileCandidates,
  tilesName,
  winogradApplies,
  type KernelChoice,
} from "../../compiler/codegen/index.js";
import type { Node, Shape } from "../../compiler/ir/index.js";
import { levels } from "../../compiler/compile.js";
import { lowerFile, lowerText } from "../support/compile.js";
import { splitKNet, winogradNet } from "./nets.js";
import { adapterChoice, expectParity } from "./support.js";

/** Each tunable conv reads NHWC with the kernel `pick` gives it (its default otherwise). */
const nhwc =
  (pick?: (node: Node, input: Shape | undefined) => KernelChoice | undefined) =>
  (node: Node, input: Shape | undefined): KernelChoice | undefined => {
    const c = pick?.(node, input) ?? defaultChoice(node, input);
    return c.kernel === "gemv" ? c : { ...c, layout: "nhwc" };
  };

// Channels that are multiples of 4 (the vec4 input loads) and ones that are not (scalar
// loads), strides, dilation, asymmetric padding, a residual, a bias-free conv, a concat
// written through slices, and a flatten (which reads NCHW) before the dense layer.
const gemmNet = (c: number) => `network G {
  input x: [3, 13, 11]
  conv(${c}, 3, pad=1) -> relu
  let a = conv(${c}, 3, stride=2, pad=[0, 1, 2, 1])
  conv(${c}, 1) -> relu
  let b = add(a, last) -> relu
  let d = conv(8, [3, 5], pad=same, dilation=2, bias=false)
  let e = conv(4, 1)
  concat(d, e)
  conv(${c}, 1, stride=2)
  flatten
  dense(5)
  output b, last
}`;

// The shared nets behind a conv (their inputs become NHWC-able) and before a 1x1 conv (their
// concats are no outputs).
const winogradNhwc = winogradNet("conv(6, 3, pad=1) -> relu", "conv(6, 1)");
const splitKNhwc = splitKNet("conv(64, 3, pad=1) -> relu", "conv(6, 1)");

// Depthwise (multiplier 1 and 2), a grouped conv, a replicate-padded conv (the direct
// kernel), pooling of each kind, batch norm and activations unfused, a broadcasting mul (its
// operands stay NCHW), concat copies, global pooling.
const directNet = `network D {
  input x: [3, 15, 13]
  conv(8, 3, pad=1) -> bn -> relu
  let a = dwconv(3, stride=2, pad=1) -> relu6
  let b = conv(8, 3, groups=4, pad=1)
  let c = conv(8, 3, pad=1, padmode=replicate) -> relu
  let d = dwconv(3, multiplier=2, pad=[1, 0, 0, 1])
  let p = maxpool(3, stride=1, pad=[1, 1, 2, 2])
  let q = avgpool(2)
  let k = concat(a, p)
  let s = globalavgpool
  let t = mul(k, s)
  output b, c, d, q, t
}`;

describe("NHWC kernels", () => {
  it("a plan in NHWC stores what it may NHWC and keeps inputs, outputs and flatten NCHW", () => {
    const plan = planGraph(lowerText(gemmNet(16)), { layout: "nhwc" });
    const nhwcValues = plan.values.filter((v) => v.layout === "nhwc").map((v) => v.name);
    // a's group holds b, an output; d's conv reads NCHW b; the last conv feeds the flatten
    expect(nhwcValues).toEqual(["conv_1", "relu_1", "conv_4", "conv_5", "concat_1"]);
    // a's 3x3 GEMM reads NHWC; the 1x1 convs read NHWC without a permuted weight
    const permuted = plan.weights.filter((w) => w.transform === "hwc");
    expect(permuted.map((w) => [w.source, w.shape])).toEqual([["conv_2.weight", [16, 3, 3, 16]]]);
  });
  // the vec4 loaders' loop runs 1, 2 and 4 times per tile under these
  const someTiles = [tileCandidates[0]!, tileCandidates[3]!, tileCandidates[5]!];
  for (const c of [16, 13]) {
    for (const tiles of c === 16 ? someTiles : [tileCandidates[0]!]) {
      it(`GEMM ${tilesName(tiles)} reading NHWC, ${c} channels, batch 3`, async () => {
        const gemm = (n: Node): KernelChoice | undefined =>
          n.op === "conv2d" ? { kernel: "gemm", tiles } : undefined;
        await expectParity(gemmNet(c), { batch: 3, layout: "nhwc", choose: nhwc(gemm) });
      });
    }
  }
  // (the tiles are the batched GEMM's, which reads Winograd's own layout: one config will do)
  for (const tiles of [tileCandidates[0]!]) {
    it(`Winograd ${tilesName(tiles)} reading NHWC, batch 2`, async () => {
      const winograd = (n: Node): KernelChoice | undefined =>
        winogradApplies(n) ? { kernel: "winograd", tiles } : undefined;
      await expectParity(winogradNhwc, { batch: 2, layout: "nhwc", choose: nhwc(winograd) });
    });
  }
  for (const parts of [2]) {
    it(`split-K ${parts} reading NHWC, batch 2`, async () => {
      const split = (n: Node, input: Shape | undefined): KernelChoice | undefined =>
        splitKApplies(n, input)
          ? { kernel: "splitk", tiles: tileCandidates[0]!, parts }
          : undefined;
      await expectParity(splitKNhwc, { batch: 2, layout: "nhwc", choose: nhwc(split) });
    });
  }
  for (const run of depthwiseRuns.slice(0, 2)) {
    it(`depthwise ${run}px, pooling, batch norm, concat copies in NHWC, batch 2`, async () => {
      const depthwise = (n: Node, input: Shape | undefined): KernelChoice | undefined =>
        defaultChoice(n, input).kernel === "depthwise" ? { kernel: "depthwise", run } : undefined;
      await expectParity(directNet, { batch: 2, layout: "nhwc", choose: nhwc(depthwise) });
    });
  }
});

function atSize(file: string, size: number): string {
  return readFileSync(file, "utf8").replace(
    "input x: [3, 224, 224]",
    `input x: [3, ${size}, ${size}]`,
  );
}

// Two inception blocks (GoogLeNet's shape, fewer channels and pixels): four branches each,
// a 3x3 max pool among them, their concat feeding the next block and a stride-2 pool.
const inceptionNet = `block inception(a, b1, b2, c1, c2, d) {
  concat {
    branch { conv(a, 1) -> bn -> relu }
    branch { conv(b1, 1) -> bn -> relu -> conv(b2, 3, pad=1) -> bn -> relu }
    branch { conv(c1, 1) -> bn -> relu -> conv(c2, 5, pad=2) -> bn -> relu }
    branch { maxpool(3, stride=1, pad=1) -> conv(d, 1) -> bn -> relu }
  }
}
network I {
  input x: [8, 12, 10]
  inception(8, 8, 12, 4, 4, 4)
  inception(12, 8, 16, 4, 8, 4)
  maxpool(3, stride=2, pad=1)
  conv(6, 1)
  output last
}`;

// Whole networks run on llvmpipe and on a GPU: every kernel variant they use is tested above on
// SwiftShader as well, where these networks would add minutes of shader compilation to CI.
describe.runIf(adapterChoice !== "swiftshader")("networks in NHWC and in mixed layouts", () => {
  it("ResNet-18 at 48x48, -O2, everything NHWC that may be", async () => {
    const graph = lowerText(atSize("examples/resnet18.cnn", 48));
    await expectParity(graph, { passes: levels[2].passes, layout: "nhwc" });
  });
  it("inception blocks, -O2 (concat slices written NHWC), batch 2", async () => {
    await expectParity(inceptionNet, { passes: levels[2].passes, layout: "nhwc", batch: 2 });
  });
  it("inception blocks unoptimised (concat copies, batch norm, activations NHWC)", async () => {
    await expectParity(inceptionNet, { layout: "nhwc" });
  });
  it("MobileNet-v1 at 32x32, -O2, the layouts by the layers' choices (every other NHWC)", async () => {
    const graph = lowerText(atSize("examples/mobilenet_v1.cnn", 32));
    let k = 0;
    const alternate = (n: Node, input: Shape | undefined): KernelChoice | undefined => {
      const c = defaultChoice(n, input);
      return c.kernel === "gemv" || k++ % 2 ? c : { ...c, layout: "nhwc" };
    };
    await expectParity(graph, { passes: levels[2].passes, batch: 2, choose: alternate });
  });
  it("Tiny (the language example) in NHWC", async () => {
    await expectParity(lowerFile("examples/tiny.cnn"), { layout: "nhwc", batch: 2 });
  });
});
