// The runtime API's own checks: wrong inputs are clear errors with the expected and actual
// shapes; a disposed model refuses to run; bundles are fully validated before allocation.
import { describe, expect, it } from "vitest";
import { writeBundle } from "../../compiler/bundle/index.js";
import { planGraph } from "../../compiler/codegen/index.js";
import { initWeights } from "../../compiler/weights/index.js";
import {
  BundleError,
  loadModel,
  Model,
  pixelsToInput,
  RuntimeError,
  type Tensor,
} from "../../runtime/index.js";
import { batchSizesKept, stagingAbove } from "../../runtime/model.js";
import { lowerFile, lowerText } from "../support/compile.js";
import { adapterChoice, adapterWords, gpu } from "./support.js";
import { withManifest } from "../support/bundle.js";

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
      expect(out.softmax_1!.shape).toEqual([batch, 10]);
      expect(out.softmax_1!.data.length).toBe(batch * 10);
    }
    // A tensor in (a grey image made an input), its batch taken from its shape.
    const pixels = {
      data: Uint8Array.from({ length: 64 * 48 }, (_, i) => (i * 7) % 256),
      width: 64,
      height: 48,
      channels: 1 as const,
    };
    const one = pixelsToInput(pixels, { width: 32, height: 32, channels: 1 });
    const two = { data: new Float32Array(2048), shape: [2, 1, 32, 32] };
    two.data.set(one.data);
    two.data.set(one.data, 1024);
    const byTensor = (await model.run({ x: two })).softmax_1!;
    expect(byTensor.shape).toEqual([2, 10]);
    const byArray = (await model.run({ x: one.data })).softmax_1!;
    expect(byTensor.data.subarray(0, 10)).toEqual(byArray.data);
    expect(byTensor.data.subarray(10)).toEqual(byArray.data);
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
      "repeats must be an integer from 1 to 10000, got 0",
    );
    model.dispose();
    await expect(model.measure()).rejects.toThrow("the model was disposed");
  });

  it("takes its inputs when run() is called: refilling the array at once changes nothing", async () => {
    const { device } = await gpu();
    const model = await Model.create(bytes, device);
    const x = Float32Array.from({ length: 2048 }, (_, i) => Math.sin(i / 5));
    const want = (await model.run({ x: x.slice() }, { batch: 2 })).softmax_1!;
    const pending = model.run({ x }, { batch: 2 });
    x.fill(0); // the caller reuses its buffer for the next frame
    expect((await pending).softmax_1).toEqual(want);
    model.dispose();
  });

  it("runs started without awaiting the last queue up, each with its own result", async () => {
    const { device } = await gpu();
    const model = await Model.create(bytes, device);
    const xs = [0.1, -0.3, 0.7].map((v) =>
      Float32Array.from({ length: 2048 }, (_, i) => v * Math.cos(i)),
    );
    const alone = [];
    for (const x of xs) alone.push((await model.run({ x }, { batch: 2 })).softmax_1!);
    const together = await Promise.all(xs.map((x) => model.run({ x }, { batch: 2 })));
    expect(together.map((o) => o.softmax_1)).toEqual(alone);
    // Batch sizes interleaved: each has its own activations, the queue keeps the order.
    const mixed = await Promise.all([
      model.run({ x: xs[0]! }, { batch: 2 }),
      model.run({ x: xs[1]!.subarray(0, 1024) }),
      model.run({ x: xs[2]! }, { batch: 2 }),
    ]);
    expect(mixed[0]!.softmax_1).toEqual(alone[0]);
    expect(mixed[2]!.softmax_1).toEqual(alone[2]);
    expect(mixed[1]!.softmax_1).toEqual(
      (await model.run({ x: xs[1]!.subarray(0, 1024) })).softmax_1,
    );
    model.dispose();
  });

  it("holds the buffers of the last few batch sizes only, never those of a run in flight", async () => {
    const { device } = await gpu();
    const model = await Model.create(bytes, device);
    const sample = Float32Array.from({ length: 1024 }, (_, i) => Math.cos(i / 7));
    const input = (batch: number): Float32Array => {
      const x = new Float32Array(batch * 1024);
      for (let b = 0; b < batch; b++) x.set(sample, b * 1024);
      return x;
    };
    const want = (await model.run({ x: sample })).softmax_1!;
    // Eight sizes at once: every run keeps its buffers until it has read its result back.
    const sizes = Array.from({ length: 8 }, (_, i) => i + 1);
    const outs = await Promise.all(sizes.map((batch) => model.run({ x: input(batch) }, { batch })));
    outs.forEach((o, i) => {
      for (let b = 0; b <= i; b++)
        expect(o.softmax_1!.data.subarray(b * 10, b * 10 + 10)).toEqual(want.data);
    });
    expect(model.batchSizesHeld.length).toBe(batchSizesKept);
    for (const batch of [10, 11, 1, 12, 10]) await model.run({ x: input(batch) }, { batch });
    expect(model.batchSizesHeld).toEqual([11, 1, 12, 10]);
    expect((await model.run({ x: sample })).softmax_1).toEqual(want);
    model.dispose();
  });

  it("takes inputs already on the GPU, and records into the caller's encoder", async () => {
    const { device } = await gpu();
    const model = await Model.create(bytes, device);
    const upload = (data: Float32Array, usage = GPUBufferUsage.COPY_SRC): GPUBuffer => {
      const b = device.createBuffer({
        size: data.byteLength,
        usage: usage | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(b, 0, data);
      return b;
    };
    const download = async (b: GPUBuffer): Promise<Float32Array> => {
      const read = device.createBuffer({
        size: b.size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(b, 0, read, 0, b.size);
      device.queue.submit([encoder.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const out = new Float32Array(read.getMappedRange().slice(0));
      read.destroy();
      return out;
    };
    const a = Float32Array.from({ length: 2048 }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: 2048 }, (_, i) => Math.cos(i * 0.3));
    const wantA = (await model.run({ x: a }, { batch: 2 })).softmax_1!.data;
    const wantB = (await model.run({ x: b }, { batch: 2 })).softmax_1!.data;
    expect(wantA).not.toEqual(wantB);

    // run() with a GPU buffer: copied on the device, the same result as the array.
    expect((await model.run({ x: upload(a) }, { batch: 2 })).softmax_1!.data).toEqual(wantA);

    // encode(): two inferences in one encoder, one submission, results left on the GPU.
    const outA = device.createBuffer({
      size: 80,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    const outB = device.createBuffer({
      size: 80,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    const encoder = device.createCommandEncoder();
    model.encode(encoder, { x: upload(a) }, { softmax_1: outA }, { batch: 2 });
    model.encode(encoder, { x: upload(b) }, { softmax_1: outB }, { batch: 2 });
    device.queue.submit([encoder.finish()]);
    expect(await download(outA)).toEqual(wantA);
    expect(await download(outB)).toEqual(wantB);

    // The caller's buffers are checked: size, usage, names, kinds.
    const e = device.createCommandEncoder();
    expect(() => model.encode(e, { x: upload(a.subarray(0, 1024)) }, {}, { batch: 2 })).toThrow(
      new RuntimeError(
        "input 'x': expected shape [2, 1, 32, 32] (8192 bytes), got a GPU buffer of 4096 bytes",
      ),
    );
    expect(() => model.encode(e, { x: upload(a, 0) }, {}, { batch: 2 })).toThrow(
      "input 'x': the GPU buffer needs usage COPY_SRC",
    );
    expect(() =>
      model.encode(
        e,
        { x: upload(a) },
        { softmax_1: device.createBuffer({ size: 80, usage: GPUBufferUsage.STORAGE }) },
        { batch: 2 },
      ),
    ).toThrow("output 'softmax_1': the GPU buffer needs usage COPY_DST");
    expect(() => model.encode(e, { x: upload(a) }, { softmax_1: outA }, { batch: 3 })).toThrow(
      "input 'x': expected shape [3, 1, 32, 32] (12288 bytes), got a GPU buffer of 8192 bytes",
    );
    expect(() => model.encode(e, { x: upload(b) }, { y: outA }, { batch: 2 })).toThrow(
      "unknown output 'y'; the model gives softmax_1",
    );
    const notABuffer = { x: new Float32Array(2048) } as unknown as Record<string, GPUBuffer>;
    expect(() => model.encode(e, notABuffer, {}, { batch: 2 })).toThrow(
      "input 'x': encode takes GPU buffers; run takes tensors and arrays",
    );
    const doubles = { x: new Float64Array(1024) } as unknown as Record<string, Float32Array>;
    await expect(model.run(doubles)).rejects.toThrow(
      "input 'x' must be a Tensor, a Float32Array or a GPUBuffer, got Float64Array",
    );
    model.dispose();
    expect(() => model.encode(e, { x: upload(a) }, {})).toThrow("the model was disposed");
  });

  it("uploads inputs over 4 MiB through its own staging buffers, run after run", async () => {
    const { device } = await gpu();
    const big = lowerText(
      "network Big {\n  input x: [3, 224, 224]\n  globalavgpool\n  output last\n}\n",
    );
    const model = await Model.create(writeBundle(planGraph(big), new Map()), device);
    const batch = 8; // 4.6 MiB: over stagingAbove
    expect(batch * 3 * 224 * 224 * 4).toBeGreaterThan(stagingAbove);
    const plane = 224 * 224;
    const inputs = [0.5, -1.25, 2].map((v) =>
      Float32Array.from(
        { length: batch * 3 * plane },
        (_, i) => v * ((i % 7) - 3) + Math.floor(i / plane),
      ),
    );
    const means = (x: Float32Array): number[] =>
      Array.from({ length: batch * 3 }, (_, p) => {
        let sum = 0;
        for (let i = 0; i < plane; i++) sum += x[p * plane + i]!;
        return sum / plane;
      });
    const only = (out: Record<string, Tensor>): Float32Array => Object.values(out)[0]!.data;
    const close = (got: Float32Array, want: number[]): void =>
      want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 3));
    // One after another (the staging buffer mapped again between), then overlapping.
    for (const x of inputs) close(only(await model.run({ x }, { batch })), means(x));
    const together = await Promise.all(inputs.map((x) => model.run({ x }, { batch })));
    together.forEach((o, k) => close(only(o), means(inputs[k]!)));
    // A GPU buffer input leaves the staging buffer as it was; the next array run still uses it.
    const onGpu = device.createBuffer({
      size: inputs[0]!.byteLength,
      usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(onGpu, 0, inputs[0]!);
    close(only(await model.run({ x: onGpu }, { batch })), means(inputs[0]!));
    close(only(await model.run({ x: inputs[1]! }, { batch })), means(inputs[1]!));
    onGpu.destroy();
    model.dispose();
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

describe("NaN in the weights is reported, not hidden", () => {
  it("info.nonFiniteWeights counts them by weight", async () => {
    const weights = initWeights(graph, 1);
    const c1 = weights.get("c1.weight")!.slice();
    c1[3] = NaN;
    c1[5] = Infinity;
    weights.set("c1.weight", c1);
    const model = await Model.create(writeBundle(planGraph(graph), weights), (await gpu()).device);
    expect(model.info.nonFiniteWeights).toEqual({ "c1.weight": 2 });
    model.dispose();
    const clean = await Model.create(bytes, (await gpu()).device);
    expect(clean.info.nonFiniteWeights).toEqual({});
    clean.dispose();
  });
});

describe("what the GPU refuses is a RuntimeError, never data", () => {
  it("a dispatch that binds an activation where its kernel reads a weight", async () => {
    const { manifest } = (await import("../../runtime/index.js")).parseBundle(bytes);
    // The GEMM reads its weight read-only; bound to the activations it also writes, WebGPU
    // refuses the dispatch (one buffer both read-only and writable). The manifest is valid.
    const k = manifest.dispatches.findIndex((d) => d.bindings.some((b) => "weight" in b));
    const d = manifest.dispatches[k]!;
    const w = d.bindings.findIndex((b) => "weight" in b);
    const value = d.bindings.find((b) => "value" in b)!;
    const bindings = d.bindings.map((b, i) => (i === w ? value : b));
    const out = withManifest(bytes, (m) => ({
      ...m,
      dispatches: m.dispatches.map((x, i) => (i === k ? { ...x, bindings } : x)),
    }));
    const model = await Model.create(out, (await gpu()).device);
    try {
      await expect(model.run({ x: new Float32Array(1024).fill(0.5) })).rejects.toThrow(
        /the GPU refused/,
      );
      await expect(model.run({ x: new Float32Array(1024) })).rejects.toBeInstanceOf(RuntimeError);
    } finally {
      model.dispose();
    }
  });
});
