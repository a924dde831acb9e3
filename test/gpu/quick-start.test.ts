// A bundle's quick start: the first results from kernels quick to compile while the bundle's
// own kernels compile behind them, then the own ones. Every run on either agrees with the
// float64 reference; runs in flight across the switch, a caller's encoder recorded before it,
// `measure`, and a model disposed mid-compile behave.
import { describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.js";
import { interpret } from "../../compiler/interp/index.js";
import { initWeights } from "../../compiler/weights/index.js";
import { Model, type CreateOptions, type Tensor } from "../../runtime/index.js";
import { lowerFile } from "../support/compile.js";
import { gpu, randomInput } from "./support.js";

// Tiny: a strided stem, residual blocks, an inception block (concat, a 5x5 and a pool branch),
// global pooling, a dense layer, two outputs.
const graph = lowerFile("examples/tiny.cnn");
const weights = initWeights(graph, 3);
const build = (quickStart: boolean | "always"): Uint8Array =>
  compileGraph({ ...graph, constants: weights }, { target: "cpu", quickStart }).bundle!;
const bundle = build("always");

/** A model of `bytes` on the test's device, disposed after `use`. */
async function withModel(
  bytes: Uint8Array,
  use: (model: Model, device: GPUDevice) => Promise<void>,
  options: CreateOptions = {},
): Promise<void> {
  const { device } = await gpu();
  const model = await Model.create(bytes, device, undefined, undefined, options);
  try {
    await use(model, device);
  } finally {
    model.dispose();
  }
}

function expectReference(got: Record<string, Tensor>, batch: number, seed: number): void {
  const want = interpret(graph, weights, randomInput(graph, batch, seed), batch);
  for (const [name, ref] of want) {
    const out = got[name]!.data;
    expect(out.length).toBe(ref.length);
    const scale = Math.max(1, ...Array.from(ref, Math.abs));
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(out[i]! - ref[i]!));
    expect(err / scale, `${name}: max error ${err}`).toBeLessThanOrEqual(1e-4);
  }
}

describe("quick start", () => {
  it("runs on the quick kernels, then on the own ones; runs across the switch are right", async () => {
    await withModel(bundle, async (model) => {
      expect(model.info.quickStart).toBe(true);
      const quick = model.info;
      expect(quick.kernels).toBe(model.manifest.kernels.length); // (the own plan's, as info says)
      expectReference(await model.run(randomInput(graph, 1, 1), { batch: 1 }), 1, 1);
      // runs started while the own kernels compile, and one more with the switch
      const runs = [1, 2, 3].map((seed) =>
        model.run(randomInput(graph, seed, seed), { batch: seed }).then((out) => ({ out, seed })),
      );
      await model.ready;
      runs.push(
        model.run(randomInput(graph, 2, 9), { batch: 2 }).then((out) => ({ out, seed: 9 })),
      );
      for (const { out, seed } of await Promise.all(runs)) {
        const batch = seed === 9 ? 2 : seed;
        expectReference(out, batch, seed);
      }
      expect(model.info.quickStart).toBe(false);
      // the quick start's buffers are gone; the own plan holds the sizes run since
      expect(model.batchSizesHeld).not.toContain(3);
      expectReference(await model.run(randomInput(graph, 3, 4), { batch: 3 }), 3, 4);
      expect(model.batchSizesHeld).toContain(3);
    });
  });

  it("without it (quickStart: false, or a bundle without one) the own kernels run at once", async () => {
    for (const [bytes, options] of [
      [bundle, { quickStart: false }],
      [build(false), {}],
    ] as const) {
      await withModel(
        bytes,
        async (model) => {
          expect(model.info.quickStart).toBe(false);
          await model.ready;
          expectReference(await model.run(randomInput(graph, 2, 5), { batch: 2 }), 2, 5);
        },
        options,
      );
    }
  });

  it("measure() times the own kernels", async () => {
    await withModel(bundle, async (model) => {
      expect(model.info.quickStart).toBe(true);
      expect(await model.measure({ batch: 1 })).toBeGreaterThan(0);
      expect(model.info.quickStart).toBe(false);
    });
  });

  it("an inference recorded into the caller's encoder before the switch runs after it", async () => {
    await withModel(bundle, async (model, device) => {
      const inputs = randomInput(graph, 1, 6);
      const x = inputs[graph.inputs[0]!.name]!;
      const input = device.createBuffer({
        size: x.byteLength,
        usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(input, 0, x);
      const outputs = Object.fromEntries(
        model.manifest.outputs.map((o) => [
          o.name,
          device.createBuffer({
            size: o.shape.reduce((a, b) => a * b, 4),
            usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
          }),
        ]),
      );
      const encoder = device.createCommandEncoder();
      expect(model.info.quickStart).toBe(true);
      model.encode(encoder, { [graph.inputs[0]!.name]: input }, outputs);
      await model.ready;
      const reads = Object.fromEntries(
        Object.entries(outputs).map(([name, b]) => [
          name,
          device.createBuffer({
            size: b.size,
            usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
          }),
        ]),
      );
      for (const [name, b] of Object.entries(outputs))
        encoder.copyBufferToBuffer(b, 0, reads[name]!, 0, b.size);
      device.pushErrorScope("validation");
      device.queue.submit([encoder.finish()]);
      expect(await device.popErrorScope()).toBeNull();
      const got: Record<string, Tensor> = {};
      for (const o of model.manifest.outputs) {
        const r = reads[o.name]!;
        await r.mapAsync(GPUMapMode.READ);
        got[o.name] = {
          data: new Float32Array(r.getMappedRange().slice(0)),
          shape: [1, ...o.shape],
        };
        r.unmap();
      }
      expectReference(got, 1, 6);
    });
  });

  it("a model disposed while its kernels compile: ready rejects, saying so", async () => {
    const { device } = await gpu();
    const model = await Model.create(bundle, device);
    model.dispose();
    await expect(model.ready).rejects.toThrow(/disposed before its kernels compiled/);
  });
});
