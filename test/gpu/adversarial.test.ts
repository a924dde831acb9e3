// The runtime API as a careless or hostile caller uses it: every call below must fail with the
// runtime's own error (RuntimeError or BundleError, one line: what the CLI prints with exit 1),
// never a TypeError from deep inside or a hang, and leave the model working. The bundle's own
// corruptions are in test/bundle.test.ts and the CLI corpus (test/adversarial.test.ts).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { BundleError, loadModel, Model, RuntimeError } from "../../runtime/index.js";
import { withManifest } from "../support/bundle.js";
import { gpu } from "./support.js";

const bundle = compile(
  "network T {\n  input x: [3, 8, 8]\n  conv(4, 3, pad=1) -> relu\n  maxpool(2)\n  flatten\n  dense(5)\n}\n",
  { seed: 2 },
).bundle!;
const x = Float32Array.from({ length: 192 }, (_, i) => Math.sin(i));

/** Calls that must be refused, each with the words the refusal must contain. */
function misuses(model: Model, device: GPUDevice): [string, () => unknown, RegExp][] {
  const buffer = (size: number, usage: number) => device.createBuffer({ size, usage });
  const src = GPUBufferUsage.COPY_SRC | GPUBufferUsage.STORAGE;
  const call = (inputs: unknown, options?: unknown) => () =>
    model.run(inputs as Record<string, Float32Array>, options as { batch: number });
  return [
    ["run(null)", call(null), /inputs must be an object/],
    ["run(undefined)", call(undefined), /inputs must be an object/],
    ["run('x')", call("x"), /inputs must be an object/],
    ["run([x])", call([x]), /inputs must be an object/],
    [
      "an input as number[]",
      call({ x: Array.from(x) }),
      /must be a Tensor, a Float32Array or a GPUBuffer/,
    ],
    ["an input as Float64Array", call({ x: Float64Array.from(x) }), /Float64Array/],
    ["an input as Uint8Array", call({ x: new Uint8Array(768) }), /Uint8Array/],
    ["an input as null", call({ x: null }), /missing input 'x'/],
    ["an input as a string", call({ x: "x" }), /got String/],
    ["an input too short", call({ x: x.subarray(1) }), /expected shape \[1, 3, 8, 8\]/],
    [
      "a tensor of another shape",
      call({ x: { data: x, shape: [1, 3, 16, 4] } }),
      /expected shape \[1, 3, 8, 8\], got a tensor of shape \[1, 3, 16, 4\]/,
    ],
    [
      "a tensor whose shape is not an array",
      call({ x: { data: x, shape: "1x3x8x8" } }),
      /got a tensor of shape \[\]/,
    ],
    [
      "a tensor of float64",
      call({ x: { data: Float64Array.from(x), shape: [1, 3, 8, 8] } }),
      /holds 192 float32 values, got Float64Array/,
    ],
    [
      "a tensor too short for its shape",
      call({ x: { data: x.subarray(1), shape: [1, 3, 8, 8] } }),
      /holds 192 float32 values, got 191/,
    ],
    [
      "a tensor of batch 0",
      call({ x: { data: new Float32Array(0), shape: [0, 3, 8, 8] } }),
      /expected shape \[1, 3, 8, 8\], got a tensor of shape \[0, 3, 8, 8\]/,
    ],
    [
      "tensors of a batch the option contradicts",
      call({ x: { data: x, shape: [1, 3, 8, 8] } }, { batch: 2 }),
      /expected shape \[2, 3, 8, 8\], got a tensor of shape \[1, 3, 8, 8\]/,
    ],
    ["an unknown input", call({ x, y: x }), /unknown input 'y'/],
    ["options null", call({ x }, null), /options must be an object/],
    ["batch NaN", call({ x }, { batch: NaN }), /batch must be a positive integer/],
    ["batch Infinity", call({ x }, { batch: Infinity }), /batch must be a positive integer/],
    ["batch '1'", call({ x }, { batch: "1" }), /batch must be a positive integer/],
    ["batch -1", call({ x }, { batch: -1 }), /batch must be a positive integer/],
    ["batch 2^53", call({ x }, { batch: 2 ** 53 }), /batch must be a positive integer|too large/],
    ["batch 10^9", call({ x: new Float32Array(0) }, { batch: 1e9 }), /expected shape/],
    ["a GPU buffer too small", call({ x: buffer(64, src) }), /got a GPU buffer of 64 bytes/],
    [
      "a GPU buffer without COPY_SRC",
      call({ x: buffer(768, GPUBufferUsage.STORAGE) }),
      /needs usage COPY_SRC/,
    ],
    ["a GPU buffer destroyed", call({ x: destroyed(buffer(768, src)) }), /refused|destroyed/],
    ["measure repeats 10^9", () => model.measure({ repeats: 1e9 }), /repeats must be/],
    ["measure repeats 0.5", () => model.measure({ repeats: 0.5 }), /repeats must be/],
    ["encode with no encoder", () => model.encode(null as never, {}, {}), /GPUCommandEncoder/],
  ];
}

function destroyed(b: GPUBuffer): GPUBuffer {
  b.destroy();
  return b;
}

describe("runtime API misuse", () => {
  it("every misuse is refused with the runtime's error, and the model still works", async () => {
    const { device } = await gpu();
    const model = await Model.create(bundle, device);
    const want = (await model.run({ x })).dense_1!;
    const escaped: string[] = [];
    for (const [name, call, words] of misuses(model, device)) {
      try {
        await call();
        escaped.push(`${name}: accepted`);
      } catch (e) {
        const ok = e instanceof RuntimeError && words.test((e as Error).message);
        if (!ok) escaped.push(`${name}: ${(e as Error).constructor.name}: ${(e as Error).message}`);
      }
      expect((await model.run({ x })).dense_1, name).toEqual(want);
    }
    expect(escaped).toEqual([]);
    model.dispose();
  });

  it("loading refuses what is not a bundle, whatever the source", async () => {
    const { device } = await gpu();
    const dir = mkdtempSync(join(tmpdir(), "cnnc-api-"));
    writeFileSync(join(dir, "empty.cnnb"), "");
    const sources: [string, unknown, RegExp][] = [
      ["a folder", dir, /cannot read|not a regular file/],
      ["a missing file", join(dir, "missing.cnnb"), /cannot read/],
      ["a device", "/dev/zero", /not a regular file/],
      ["an empty file", join(dir, "empty.cnnb"), /too short|truncated|not a/],
      ["a number", 42, /cannot read|bundle source/],
      ["null", null, /bundle source/],
      [
        "random bytes",
        Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251),
        /magic|not a/,
      ],
      [
        "a manifest that says batch 1 needs 2^50 bytes",
        withManifest(bundle, (m) => ({ ...m, arena: 2 ** 48 })),
        /./,
      ],
    ];
    const escaped: string[] = [];
    for (const [name, source, words] of sources) {
      try {
        const m = await loadModel(source as string, { device });
        // A bundle the device cannot hold may load; its run must then be refused.
        try {
          await m.run({ x });
          escaped.push(`${name}: ran`);
        } catch (e) {
          if (!(e instanceof RuntimeError)) escaped.push(`${name}: run threw ${String(e)}`);
        } finally {
          m.dispose();
        }
      } catch (e) {
        const ours = e instanceof RuntimeError || e instanceof BundleError;
        if (!ours || !words.test((e as Error).message))
          escaped.push(`${name}: ${(e as Error).constructor.name}: ${(e as Error).message}`);
      }
    }
    expect(escaped).toEqual([]);
  });
});
