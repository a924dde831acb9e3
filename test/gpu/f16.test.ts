// f16 weights (cnnc build --f16): a GPU's plan reads them as halves packed two to a u32, a CPU
// emulation's widened to f32 at load; both compute in f32. Checked against the float64
// reference run on the same halves (the stored weights rounded; a fold or a transform after the
// rounding rounds once more, within 2^-11 of each weight, hence 2e-3 where the plan folds batch
// norms or runs Winograd), every kernel kind reading halves (the CPU emulations' kernels too,
// which `cnnc tune` may pick for a GPU), and against the f32 bundle: different results (the
// halves are read), within 1e-2 of them.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { candidates } from "../../compiler/codegen/index.js";
import { compileGraph, levels } from "../../compiler/compile.js";
import { initWeights } from "../../compiler/weights/index.js";
import { Model, parseBundle } from "../../runtime/index.js";
import { lowerFile, lowerText } from "../support/compile.js";
import { adapterChoice, expectParity, gpu, randomInput } from "./support.js";

const at64 = (file: string): string =>
  readFileSync(file, "utf8").replace("input x: [3, 224, 224]", "input x: [3, 64, 64]");

describe("f16 weights against the reference on the halves", () => {
  it("LeNet-5 with a GPU's kernels and a CPU emulation's, batch 2", async () => {
    for (const target of ["gpu", "cpu"] as const)
      await expectParity(lowerFile("examples/lenet5.cnn"), { f16: true, target, batch: 2 });
  });
  it("SepNet, -O2, a GPU's plan of a CPU emulation's kernels (depthwise runs, pointwise, blocked)", async () => {
    const kinds = new Set<string>();
    await expectParity(lowerFile("examples/sepnet.cnn"), {
      f16: true,
      passes: levels[2].passes,
      batch: 2,
      tolerance: 2e-3,
      choose: (n, input) => {
        const c = candidates(n, input, 1, false, "cpu")[0];
        if (c) kinds.add(c.kernel);
        return c;
      },
    });
    expect([...kinds].sort()).toEqual(["blocked", "depthwise", "gemv", "pointwise"]);
  });
  // (CPU emulations' plans widen the halves at load: the runtime's code, the same on both)
  it.skipIf(adapterChoice === "swiftshader")(
    "Tiny, -O2, from its quick start and then its own kernels",
    async () => {
      await expectParity(lowerFile("examples/tiny.cnn"), {
        f16: true,
        target: "cpu",
        quickStart: "always",
        passes: levels[2].passes,
        tolerance: 2e-3,
      });
    },
  );
  it("MobileNet-v1 at 64x64, -O2 (a GPU's kernels: the GEMM, depthwise, the GEMV)", async () => {
    await expectParity(lowerText(at64("examples/mobilenet_v1.cnn")), {
      f16: true,
      passes: levels[2].passes,
      tolerance: 2e-3,
    });
  });
});

describe("f16 weights against f32 ones", () => {
  it("LeNet-5: half the weight bytes, results within 1e-2 and not the same", async () => {
    const graph = lowerFile("examples/lenet5.cnn");
    const weights = initWeights(graph, 2);
    const build = (f16: boolean) =>
      compileGraph({ ...graph, constants: weights }, f16 ? { weightFormat: "f16" } : {}).bundle!;
    const [full, half] = [build(false), build(true)];
    const blob = (b: Uint8Array) => parseBundle(b).manifest.blobBytes;
    expect(blob(half) / blob(full)).toBeGreaterThan(0.49);
    expect(blob(half) / blob(full)).toBeLessThan(0.51);
    const device = (await gpu()).device;
    const inputs = randomInput(graph, 2, 9);
    const outputs: Float32Array[] = [];
    for (const bundle of [full, half]) {
      const model = await Model.create(bundle, device, undefined, undefined, {
        quickStart: false,
      });
      try {
        outputs.push((await model.run(inputs, { batch: 2 }))[graph.outputs[0]!.name]!.data);
      } finally {
        model.dispose();
      }
    }
    const [a, b] = outputs as [Float32Array, Float32Array];
    const scale = Math.max(...Array.from(a, Math.abs));
    const diff = Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i]!))) / scale;
    expect(diff).toBeGreaterThan(1e-6);
    expect(diff).toBeLessThan(1e-2);
  });
});
