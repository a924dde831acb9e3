// Example networks end to end on the GPU, against the reference: the small ones as written,
// ResNet-18 and GoogLeNet reduced to 64x64 inputs (the same layers, fewer pixels).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { lowerFile, lowerText } from "../support/compile.js";
import { planGraph } from "../../compiler/codegen/index.js";
import { runPasses } from "../../compiler/passes/index.js";
import { levels } from "../../compiler/compile.js";
import { initWeights } from "../../compiler/weights/index.js";
import { adapterChoice, expectParity } from "./support.js";

function at64(file: string): string {
  return readFileSync(file, "utf8").replace("input x: [3, 224, 224]", "input x: [3, 64, 64]");
}

describe("example networks on the GPU", () => {
  it("LeNet-5, batch 3", async () => {
    await expectParity(lowerFile("examples/lenet5.cnn"), { batch: 3 });
  });
  it("SepNet, batch 2", async () => {
    await expectParity(lowerFile("examples/sepnet.cnn"), { batch: 2 });
  });
  it("Tiny (the language example: blocks, concat, add, two outputs)", async () => {
    await expectParity(lowerFile("examples/tiny.cnn"));
  });
  it("ResNet-18 at 64x64", async () => {
    await expectParity(lowerText(at64("examples/resnet18.cnn")));
  });
  // GoogLeNet as written compiles ~60 pipelines: SwiftShader (~10x slower to compile than
  // llvmpipe) runs it at -O2 only, below; its unfused kernels are each op case's there.
  if (adapterChoice !== "swiftshader")
    it("GoogLeNet at 64x64", async () => {
      await expectParity(lowerText(at64("examples/googlenet.cnn")));
    });
  // -O2: batch norm folded, residual adds and activations fused into the conv epilogues.
  it("ResNet-18 at 64x64, -O2, batch 2", async () => {
    await expectParity(lowerText(at64("examples/resnet18.cnn")), {
      passes: levels[2].passes,
      batch: 2,
    });
  });
  // (SwiftShader compiles GoogLeNet's ~70 pipelines in about two minutes of the suite's
  // twenty: it takes Tiny's inception block, its branches also written into the concat's
  // slices, the same kernels)
  if (adapterChoice !== "swiftshader")
    it("GoogLeNet at 64x64, -O2 (concat inputs written in place)", async () => {
      await expectParity(lowerText(at64("examples/googlenet.cnn")), { passes: levels[2].passes });
    });
  it("Tiny, -O2 (concat inputs written in place)", async () => {
    await expectParity(lowerFile("examples/tiny.cnn"), { passes: levels[2].passes });
  });
  it("MobileNet-v1 at 64x64, -O2", async () => {
    await expectParity(lowerText(at64("examples/mobilenet_v1.cnn")), { passes: levels[2].passes });
  });
  // The defaults for CPU emulations (cnnc build --target cpu, the cost model's picks): the
  // register-blocked convs (pointwise 1x1, blocked for other windows), row runs, 16x16 GEMV.
  it("LeNet-5, SepNet -O2 and Tiny with the CPU-emulation defaults", async () => {
    await expectParity(lowerFile("examples/lenet5.cnn"), { target: "cpu", batch: 2 });
    await expectParity(lowerFile("examples/sepnet.cnn"), {
      target: "cpu",
      passes: levels[2].passes,
    });
    await expectParity(lowerFile("examples/tiny.cnn"), { target: "cpu" });
  });
  // (SwiftShader compiles ~10x slower than llvmpipe: the kernels above are each kind's there)
  // With the quick start a CPU emulation's bundle carries for large networks: the first run
  // on its kernels (the smallest register blocks, every kernel in a shape family: GoogLeNet's
  // branches share them), the next on the defaults.
  if (adapterChoice !== "swiftshader") {
    it("MobileNet-v1 at 64x64, -O2, with the CPU-emulation defaults and quick start", async () => {
      await expectParity(lowerText(at64("examples/mobilenet_v1.cnn")), {
        target: "cpu",
        passes: levels[2].passes,
        quickStart: "always",
      });
    });
    it("GoogLeNet at 64x64, -O2, with the CPU-emulation defaults and quick start", async () => {
      await expectParity(lowerText(at64("examples/googlenet.cnn")), {
        target: "cpu",
        passes: levels[2].passes,
        quickStart: "always",
      });
    });
  }
  it("SepNet, -O2 (separable convs lowered, dropout removed)", async () => {
    await expectParity(lowerFile("examples/sepnet.cnn"), { passes: levels[2].passes, batch: 3 });
  });
  it("a separable-kernel net, -O2: 5x5 and 3x3 convs decomposed into column and row convs", async () => {
    const graph = lowerText(`network Blur {
  input x: [3, 21, 18]
  a: conv(8, 5, pad=same, padmode=replicate) -> relu
  b: conv(6, 3, stride=2, pad=[1, 0, 1, 2])
  output last
}`);
    // Kernels w[o, c, i, j] = (o - c) u[i] v[j]: rank 2 in scheme 2's (C_in k) x (C_out k) form.
    const weights = initWeights(graph, 2);
    for (const [name, k] of [
      ["a.weight", 5],
      ["b.weight", 3],
    ] as const) {
      const w = weights.get(name)!;
      const cin = w.length / (k * k) / graph.nodes.find((n) => n.weights[0] === name)!.shape[0]!;
      for (let at = 0; at < w.length; at++) {
        const [j, i] = [at % k, Math.floor(at / k) % k];
        const c = Math.floor(at / (k * k)) % cin;
        const o = Math.floor(at / (k * k * cin));
        w[at] = ((o - c) * (1 + i) * (2 - j * 0.5)) / 10;
      }
    }
    const optimized = runPasses({ ...graph, constants: weights }, levels[2].passes);
    expect(optimized.nodes.map((n) => n.name)).toEqual(["a.vertical", "a", "b.vertical", "b"]);
    await expectParity(graph, { passes: levels[2].passes, batch: 2, weights });
  });
  it("pre-activation blocks, -O2: activations fused into batch norm, add, pooling and mul", async () => {
    const graph = lowerText(`network PreAct {
  input x: [6, 13, 11]
  add {
    branch { bn -> relu -> conv(6, 3, pad=1) -> bn -> relu -> conv(6, 3, pad=1) }
    branch { identity }
  }
  relu
  maxpool(2) -> leaky_relu(0.2)
  let s = globalavgpool -> hardswish
  let t = add(s, s) -> relu6
  mul(t, s) -> sigmoid
  output last
}`);
    const optimized = runPasses({ ...graph, constants: initWeights(graph, 1) }, levels[2].passes);
    const fused = optimized.nodes.filter((n) => "act" in n.attrs && n.attrs.act !== "none");
    expect(fused.map((n) => n.op).sort()).toEqual(
      // the second bn folds into its conv, whose relu fuses; the add fuses into the last conv
      ["add", "batchnorm", "conv2d", "conv2d", "globalavgpool", "maxpool2d", "mul"].sort(),
    );
    await expectParity(graph, { passes: levels[2].passes, batch: 2 });
  });
  it("in-place elementwise chains (bn, relu, add, sigmoid in their operand's memory)", async () => {
    const graph = lowerText(`network P {
  input x: [4, 16, 16]
  conv(8, 3, pad=1) -> bn -> relu
  let a = conv(8, 3, pad=1)
  let b = a -> relu
  add(a, b) -> sigmoid
  output last
}`);
    const plan = planGraph(graph, { planMemory: true });
    expect(plan.values.filter((v) => v.alias !== undefined)).toHaveLength(4);
    await expectParity(graph, { batch: 3 });
  });
});
