// Kernels' subgroup forms (Manifest.subgroupKernels): a device with WebGPU's `subgroups`
// (SwiftShader here, its subgroups 4 lanes wide) runs them in place of the plain kernels; one
// without (llvmpipe in compatibility mode) runs the plain ones. Each form is checked against
// the float64 reference, and against the plain kernel on the same adapter, for every kernel
// that has one: GEMV (every candidate shape, K a multiple of 4 and not, batches that fill no
// workgroup, a split weight), softmax and log-softmax over many features, and global pooling.
import { describe, expect, it } from "vitest";
import { compileGraph, levels } from "../../compiler/compile.js";
import { gemvCandidates, gemvName, type KernelChoice } from "../../compiler/codegen/index.js";
import { interpret } from "../../compiler/interp/index.js";
import { initWeights } from "../../compiler/weights/index.js";
import { manifestFor, Model, parseBundle, type Tensor } from "../../runtime/index.js";
import { lowerText } from "../support/compile.js";
import { expectParity, gpu, net, randomInput } from "./support.js";

const { device } = await gpu();
const hasSubgroups = device.features.has("subgroups");

/** Builds `text` and runs it on `device` at `batch`: its outputs, and how many subgroup forms ran. */
async function runOn(
  target: GPUDevice,
  text: string,
  batch: number,
  choice?: KernelChoice,
): Promise<{ out: Map<string, Float32Array>; forms: number; carried: number }> {
  const graph = lowerText(text);
  const weights = initWeights(graph, 3);
  const choices = new Map<string, KernelChoice>();
  if (choice) for (const n of graph.nodes) if (n.op === "dense") choices.set(n.name, choice);
  const { bundle } = compileGraph(
    { ...graph, constants: weights },
    { passes: levels[2].passes, choices },
  );
  const carried = Object.keys(parseBundle(bundle!).manifest.subgroupKernels ?? {}).length;
  const model = await Model.create(bundle!, target);
  try {
    const got: Record<string, Tensor> = await model.run(randomInput(graph, batch, 5), { batch });
    return {
      out: new Map(Object.entries(got).map(([k, t]) => [k, t.data])),
      forms: model.info.subgroupKernels,
      carried,
    };
  } finally {
    model.dispose();
  }
}

const head = (k: number, units: number) =>
  net(`[${k}]`, `  dense(${units}) -> relu\n  dense(${units + 3})\n  softmax`);
const pooled = (pool: string) =>
  net("[70, 6, 5]", `  ${pool}\n  flatten\n  dense(67)\n  log_softmax`);

describe("subgroup forms", () => {
  it("are carried by GEMV, wide softmax and global pooling, and run where the device has subgroups", async () => {
    const { forms, carried } = await runOn(device, pooled("globalavgpool"), 1);
    // global pool, two shapes of dense (one family), log-softmax over 67 features
    expect(carried).toBe(3);
    expect(forms).toBe(hasSubgroups ? carried : 0);
  });

  for (const shape of gemvCandidates) {
    for (const [k, batch] of [
      [64, 1],
      [66, 3],
      [256, 9],
    ] as const) {
      it(`GEMV ${gemvName(shape)}, K=${k}, softmax over ${k + 3} at batch ${batch} agree with the reference`, async () => {
        await expectParity(head(k, k), {
          passes: levels[2].passes,
          batch,
          choose: (n) => (n.op === "dense" ? { kernel: "gemv", shape } : undefined),
        });
      });
    }
  }

  for (const pool of ["globalavgpool", "globalmaxpool"]) {
    for (const batch of [1, 4]) {
      it(`${pool} then log-softmax at batch ${batch} agree with the reference`, async () => {
        await expectParity(pooled(pool), { passes: levels[2].passes, batch });
      });
    }
  }

  it("a dense weight split into row ranges keeps each range's own rows", async () => {
    await expectParity(net("[64]", "  dense(40) -> relu\n  output last"), {
      batch: 2,
      maxBindingBytes: 64 * 4 * 12,
      choose: () => ({ kernel: "gemv", shape: gemvCandidates[3]! }),
    });
  });

  it.runIf(hasSubgroups)(
    "give the plain kernels' results within float rounding on a device without the feature",
    async () => {
      // the same adapter, a device that did not ask for subgroups
      const adapter = await (await gpu()).gpu.requestAdapter((await gpu()).adapterOptions);
      const plain = await adapter!.requestDevice({
        requiredLimits: {
          maxStorageBufferBindingSize: adapter!.limits.maxStorageBufferBindingSize,
        },
      });
      try {
        const text = pooled("globalmaxpool");
        const graph = lowerText(text);
        const want = interpret(graph, initWeights(graph, 3), randomInput(graph, 5, 5), 5);
        const a = await runOn(device, text, 5);
        const b = await runOn(plain, text, 5);
        expect([a.forms, b.forms]).toEqual([3, 0]);
        for (const [name, ref] of want) {
          const x = a.out.get(name)!;
          const y = b.out.get(name)!;
          let apart = 0;
          let off = 0;
          for (let i = 0; i < ref.length; i++) {
            apart = Math.max(apart, Math.abs(x[i]! - y[i]!));
            off = Math.max(off, Math.abs(x[i]! - ref[i]!));
          }
          expect(apart).toBeLessThan(1e-4);
          expect(off).toBeLessThan(1e-4);
        }
      } finally {
        plain.destroy();
      }
    },
  );
});
