// The runtime API's own checks: wrong inputs are clear errors with the expected and actual
// shapes; a disposed model refuses to run; bundles are fully validated before allocation.
import { describe, expect, it } from "vitest";
import { writeBundle } from "../../compiler/bundle/index.js";
import { planGraph } from "../../compiler/codegen/index.js";
import { initWeights } from "../../compiler/weights/index.js";
import { BundleError, loadModel, Model, RuntimeError } from "../../runtime/index.js";
import { lowerFile } from "../support/compile.js";
import { adapterChoice, adapterWords, gpu } from "./support.js";

const graph = lowerFile("examples/lenet5.cnn");
const bytes = writeBundle(planGraph(graph), initWeights(graph, 1));

describe("runtime API", () => {
  it("loads from bytes and from a path, reports its adapter, runs batches of any size", async () => {
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const path = join(mkdtempSync(join(tmpdir(), "cnnc-rt-")), "l.cnnb");
    writeFileSync(path, bytes);
    const model = await loadModel(path, { adapter: adapterChoice });
    expect(model.adapterName).toMatch(adapterWords);
    expect(model.info).toMatchObject({
      network: "LeNet5",
      inputs: [{ name: "x", shape: [1, 32, 32] }],
    });
    for (const batch of [1, 4, 2]) {
      const out = await model.run({ x: new Float32Array(batch * 1024).fill(0.1) }, { batch });
      expect(out.softmax_1!.length).toBe(batch * 10);
    }
    model.dispose();
  });

  it("names the expected and actual input shapes", async () => {
    const { device } = await gpu();
    const model = await Model.create(bytes, device);
    await expect(model.run({ x: new Float32Array(1000) }, { batch: 2 })).rejects.toThrow(
      new RuntimeError("input 'x': expected shape [2, 1, 32, 32] (2048 values), got 1000 values"),
    );
    await expect(model.run({})).rejects.toThrow("missing input 'x' [1, 1, 32, 32]");
    await expect(model.run({ x: new Float32Array(1024), y: new Float32Array(1) })).rejects.toThrow(
      "unknown input 'y'; the model takes x",
    );
    await expect(model.run({ x: new Float32Array(1024) }, { batch: 0 })).rejects.toThrow(
      "batch must be a positive integer",
    );
    model.dispose();
    await expect(model.run({ x: new Float32Array(1024) })).rejects.toThrow(
      "the model was disposed",
    );
  });

  it("measures GPU time without disturbing the next run", async () => {
    const { device } = await gpu();
    const model = await Model.create(bytes, device);
    const x = Float32Array.from({ length: 2048 }, (_, i) => Math.sin(i));
    const before = await model.run({ x }, { batch: 2 });
    const once = await model.measure({ batch: 2 });
    const many = await model.measure({ batch: 2, repeats: 20 });
    for (const t of [once, many]) expect(t).toBeGreaterThan(0);
    expect(Number.isFinite(many)).toBe(true);
    expect(await model.run({ x }, { batch: 2 })).toEqual(before);
    await expect(model.measure({ batch: 1.5 })).rejects.toThrow(
      "batch must be a positive integer, got 1.5",
    );
    await expect(model.measure({ repeats: 0 })).rejects.toThrow(
      "repeats must be a positive integer, got 0",
    );
    model.dispose();
    await expect(model.measure()).rejects.toThrow("the model was disposed");
  });

  it("refuses a corrupt bundle before touching the device", async () => {
    const { device } = await gpu();
    const broken = bytes.slice(0, bytes.length - 100);
    await expect(Model.create(broken, device)).rejects.toThrow(BundleError);
  });

  it("a lost device makes run() reject with a clear RuntimeError, and says why", async () => {
    // A device of its own: destroying the shared one would end the other tests.
    const { nodeDevice } = await import("../../runtime/node-device.js");
    const own = await nodeDevice(adapterChoice);
    const model = await Model.create(bytes, own.device, own);
    const x = new Float32Array(1024).fill(0.25);
    await model.run({ x });
    expect(model.lost).toBeUndefined();
    own.device.destroy();
    await own.device.lost;
    expect(model.lost).toMatch(/^the GPU device was lost \(.+\); load the model again/);
    await expect(model.run({ x })).rejects.toThrow(RuntimeError);
    await expect(model.run({ x })).rejects.toThrow(/the GPU device was lost/);
  });
});
