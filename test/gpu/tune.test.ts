// `cnnc tune`: every kernel it may pick computes the same layers as the reference, on
// awkward shapes (channels and pixels that fill no tile, odd output sizes, strides,
// asymmetric padding, residuals, concat slices, batches that fill no block, split weights):
// the tiled GEMM under every tile configuration, Winograd F(2x2, 3x3) under every one, the
// depthwise kernel under every run, and the GEMV. A tuned bundle records its choices and
// agrees with the reference.
import { describe, expect, it } from "vitest";
import {
  candidates,
  defaultTiles,
  depthwiseRuns,
  blockedCandidates,
  blockedName,
  pointwiseCandidates,
  pointwiseName,
  splitKApplies,
  splitKParts,
  splitKTiles,
  gemvCandidates,
  gemvName,
  tileCandidates,
  tilesName,
  winogradApplies,
  type GemvShape,
  type KernelChoice,
} from "../../compiler/codegen/index.js";
import { interpret } from "../../compiler/interp/index.js";
import { runPasses } from "../../compiler/passes/index.js";
import { levels } from "../../compiler/compile.js";
import { initWeights } from "../../compiler/weights/index.js";
import { Model, parseBundle, PipelineCache } from "../../runtime/index.js";
import { surelyMeasured, tuneGraph, tuningNames, tuningPlan } from "../../compiler/tune.js";
import { compileAhead } from "../../cli/tune-ahead.js";
import { compileGraph } from "../../compiler/compile.js";
import { lowerFile } from "../support/compile.js";
import { splitKNet, winogradNet } from "./nets.js";
import { adapterChoice, expectParity, gpu, randomInput } from "./support.js";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const gemmNet = `network G {
  input x: [13, 11, 9]
  let a = conv(37, 3, stride=2, pad=[0, 1, 2, 1])
  conv(37, 1) -> relu
  add(a, last) -> relu
  conv(8, [3, 5], pad=same, dilation=2)
  flatten
  dense(67) -> relu
  dense(5)
  output last
}`;

describe("GEMM tile configurations", () => {
  for (const tiles of tileCandidates) {
    it(`${tilesName(tiles)} agrees with the reference, batch 3`, async () => {
      await expectParity(gemmNet, {
        passes: levels[2].passes,
        batch: 3,
        choose: () => ({ kernel: "gemm", tiles }),
      });
    });
  }
});

describe("split-K GEMM", () => {
  for (const parts of splitKParts) {
    for (const tiles of splitKTiles) {
      it(`${parts} parts with ${tilesName(tiles)} tiles agree with the reference, batch 3`, async () => {
        const seen: string[] = [];
        await expectParity(splitKNet(), {
          passes: levels[2].passes,
          batch: 3,
          choose: (n, input) => {
            if (!splitKApplies(n, input)) return undefined;
            seen.push(n.name);
            return { kernel: "splitk", tiles, parts };
          },
        });
        expect(seen.length).toBe(4);
      });
    }
  }
});

// 1x1 convs the pointwise kernel takes: maps of 49 pixels (scalar loads) and of 60 (vec4),
// channel counts no thread block divides, a fused residual, concat slices, a batch whose
// four-pixel groups straddle images, and NHWC outputs (the concat is NHWC where `conv(12, 3)`
// reads it NHWC, so the 1x1 convs in its branches write their slices NHWC).
const pointwiseNet = `network P {
  input x: [12, 7, 7]
  let a = conv(20, 1) -> relu
  conv(20, 1)
  add(a, last) -> relu
  concat {
    branch { conv(8, 1) -> relu }
    branch { conv(12, 1) }
  }
  conv(12, 3, pad=same)
  conv(4, 1) -> relu6
  output last
}`;
const pointwiseVecNet = `network Q {
  input x: [8, 6, 10]
  conv(36, 1) -> relu
  conv(4, 1, bias=false)
  output last
}`;

describe("pointwise 1x1 conv", () => {
  for (const blocks of pointwiseCandidates) {
    for (const [what, net] of [
      ["49-pixel maps", pointwiseNet],
      ["60-pixel maps", pointwiseVecNet],
    ] as const) {
      it(`${pointwiseName(blocks)} agrees with the reference on ${what}, batch 3`, async () => {
        const seen: string[] = [];
        await expectParity(net, {
          passes: levels[2].passes,
          batch: 3,
          choose: (n, input) => {
            if (!candidates(n, input).some((c) => c.kernel === "pointwise")) {
              const k3 = n.op === "conv2d" && n.attrs.k[0] === 3;
              return k3 ? { kernel: "gemm", tiles: defaultTiles, layout: "nhwc" } : undefined;
            }
            seen.push(n.name);
            return { kernel: "pointwise", blocks };
          },
        });
        expect(seen.length).toBe(what === "49-pixel maps" ? 5 : 2);
      });
    }
  }
  it("falls back to the GEMM where its input is stored NHWC", async () => {
    await expectParity(pointwiseNet, {
      batch: 2,
      passes: levels[2].passes,
      layout: "nhwc",
      choose: (n, input) =>
        candidates(n, input).some((c) => c.kernel === "pointwise")
          ? { kernel: "pointwise", blocks: pointwiseCandidates[0]! }
          : undefined,
    });
  });
});

// The register-blocked conv: a 7x7 stride-2 window over 3 channels, 3x3 with a fused residual,
// 1x1 stride 2, a dilated 3x5 window and a 3x3 one writing into one concat's channel slices,
// a 2x2 stride-2 one, rows no block width divides (gemmNet adds asymmetric padding).
const blockedNet = `network B {
  input x: [3, 27, 23]
  let a = conv(19, 7, stride=2, pad=3) -> relu
  conv(19, 3, pad=1)
  let b = add(a, last) -> relu
  let c = b -> conv(4, 1, stride=2)
  let d = b -> conv(5, [3, 5], pad=same, dilation=2)
  let e = b -> conv(7, 3, pad=1, bias=false)
  concat(d, e) -> relu
  conv(4, 2, stride=2)
  add(c, last)
  output last
}`;

describe("register-blocked conv", () => {
  for (const blocks of blockedCandidates) {
    for (const [what, net, count] of [
      ["windows of every kind", blockedNet, 6],
      ["asymmetric padding", gemmNet, 3],
    ] as const) {
      it(`${blockedName(blocks)} agrees with the reference on ${what}, batch 3`, async () => {
        const seen: string[] = [];
        await expectParity(net, {
          passes: levels[2].passes,
          batch: 3,
          choose: (n, input) => {
            if (!candidates(n, input).some((c) => c.kernel === "blocked")) return undefined;
            seen.push(n.name);
            return { kernel: "blocked", blocks };
          },
        });
        expect(seen.length, seen.join(" ")).toBe(count);
      });
    }
  }
  it("falls back to the GEMM where its input is stored NHWC", async () => {
    await expectParity(blockedNet, {
      batch: 2,
      passes: levels[2].passes,
      layout: "nhwc",
      choose: (n, input) =>
        candidates(n, input).some((c) => c.kernel === "blocked")
          ? { kernel: "blocked", blocks: blockedCandidates[0]! }
          : undefined,
    });
  });
});

describe("Winograd F(2x2, 3x3)", () => {
  for (const tiles of tileCandidates) {
    it(`with ${tilesName(tiles)} GEMM tiles agrees with the reference, batch 3`, async () => {
      const seen: string[] = [];
      await expectParity(winogradNet(), {
        passes: levels[2].passes,
        batch: 3,
        choose: (n) => {
          if (!winogradApplies(n)) return undefined;
          seen.push(n.name);
          return { kernel: "winograd", tiles };
        },
      });
      expect(seen.length).toBe(5);
    });
  }
});

// Depthwise convs: widths no run divides, strides, a multiplier, dilation, asymmetric
// padding, a fused residual, and two writing into one concat's channel slices.
const depthwiseNet = `network D {
  input x: [6, 13, 11]
  let a = dwconv(3, pad=1) -> relu6
  dwconv(3, pad=1, bias=false)
  let b = add(a, last) -> relu
  let c = dwconv(5, stride=[2, 1], pad=[2, 1, 0, 2], multiplier=2)
  let d = dwconv(3, dilation=2, pad=same)
  let e = c -> dwconv(3, pad=[1, 2, 1, 0])
  let f = c -> dwconv(3, stride=[1, 2], pad=1)
  concat(d, e)
  output b, f, last
}`;

describe("depthwise outputs per thread", () => {
  for (const run of depthwiseRuns) {
    it(`${run} per thread agrees with the reference, batch 3`, async () => {
      const seen: string[] = [];
      await expectParity(depthwiseNet, {
        passes: levels[2].passes,
        batch: 3,
        choose: (n) => {
          seen.push(n.name);
          return { kernel: "depthwise", run };
        },
      });
      expect(seen.length).toBe(6);
    });
  }
});

describe("GEMV", () => {
  const gemv = (shape: GemvShape) => (): KernelChoice => ({ kernel: "gemv", shape });
  // K a multiple of 4 (vec4 loads) and not; units that fill no workgroup; residual + act
  const denseNet = (k: number) => `network D {
  input x: [${k}]
  let h = dense(13) -> relu
  dense(13)
  add(h, last) -> tanh
  dense(6, bias=false)
  output last
}`;
  for (const shape of gemvCandidates) {
    for (const [k, batch] of [
      [32, 1],
      [30, 9],
    ] as const) {
      it(`${gemvName(shape)}: K=${k} at batch ${batch} agrees with the reference`, async () => {
        await expectParity(denseNet(k), { passes: levels[2].passes, batch, choose: gemv(shape) });
      });
    }
  }
  it("splits a weight over the binding limit into row ranges", async () => {
    await expectParity(`network S {\n  input x: [64]\n  dense(40) -> relu\n  output last\n}`, {
      batch: 2,
      maxBindingBytes: 64 * 4 * 12,
      choose: gemv(gemvCandidates[1]!),
    });
  });
});

// cnnc tune measures candidates with every size read from the uniform (one text for every
// layer of a kind: compiled once), and checks each candidate only against the default's
// output, which takes that form too: so the form is checked against the reference here, a
// kernel of each family on the nets above (their windows, paddings, strides, slices, batches).
// The form is WGSL, the same on every adapter: checked on llvmpipe, which compiles it in a
// tenth of SwiftShader's time (SwiftShader tunes in this form in tuneGraph's test below).
describe.skipIf(adapterChoice === "swiftshader")(
  "the candidates' form, every size from the uniform",
  () => {
    const families: [string, string, KernelChoice["kernel"], number][] = [
      ["gemm", gemmNet, "gemm", 3],
      ["blocked", blockedNet, "blocked", 6],
      ["pointwise", pointwiseNet, "pointwise", 5],
      ["depthwise", depthwiseNet, "depthwise", 6],
      ["winograd", winogradNet(), "winograd", 1],
      ["splitk", splitKNet(), "splitk", 1],
    ];
    for (const [name, net, kernel, count] of families) {
      it(`${name} agrees with the reference, batch 3`, async () => {
        const seen: string[] = [];
        await expectParity(net, {
          passes: levels[2].passes,
          batch: 3,
          shapeFamilies: "every size",
          choose: (n, input) => {
            const c = candidates(n, input).find((c) => c.kernel === kernel);
            if (c) seen.push(n.name);
            return c;
          },
        });
        expect(seen.length, seen.join(" ")).toBeGreaterThanOrEqual(count);
      });
    }
    it("gemv agrees with the reference, batch 9, K not a multiple of 4", async () => {
      await expectParity(
        `network D {\n  input x: [30]\n  let h = dense(13) -> relu\n  dense(13)\n  add(h, last) -> tanh\n  output last\n}`,
        { passes: levels[2].passes, batch: 9, shapeFamilies: "every size" },
      );
    });
  },
);

describe("tuneGraph", () => {
  it("picks a kernel per distinct layer; the tuned bundle records them and agrees", async () => {
    const graph = lowerFile("examples/lenet5.cnn");
    const weights = initWeights(graph, 2);
    const optimized = runPasses({ ...graph, constants: weights }, levels[2].passes);
    const { device } = await gpu();
    const measured = new Set(tileCandidates.slice(0, 2).map(tilesName));
    const { choices, report } = await tuneGraph(
      { ...optimized, constants: optimized.constants! },
      (b) => Model.create(b, device),
      {
        runs: 1,
        filter: (c) =>
          c.kernel === "gemv"
            ? c.shape === gemvCandidates[1]
            : "tiles" in c && measured.has(tilesName(c.tiles)),
      },
    );
    expect(report.map((r) => r.layers.join(","))).toEqual(["c1", "c3", "c5", "f6", "output_layer"]);
    for (const r of report) {
      if (r.best.kernel === "gemv") expect([0, 1]).toContain(gemvCandidates.indexOf(r.best.shape));
      else expect("tiles" in r.best && measured.has(tilesName(r.best.tiles))).toBe(true);
    }
    // The optimised graph as it is (no pass to run again), with the tuner's choices.
    const bytes = compileGraph(optimized, {
      passes: [],
      choices,
      tuning: { adapter: "test", layers: tuningNames(choices) },
    }).bundle!;
    const { manifest } = parseBundle(bytes);
    expect(manifest.tuning?.adapter).toBe("test");
    expect(Object.keys(manifest.tuning!.layers).sort()).toEqual(
      ["c1", "c3", "c5", "f6", "output_layer"].sort(),
    );
    const model = await Model.create(bytes, device);
    const inputs = randomInput(graph, 2, 4);
    const got = (await model.run(inputs, { batch: 2 })).softmax_1!.data;
    model.dispose();
    const want = interpret(graph, weights, inputs, 2).get("softmax_1")!;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
  });
});

describe("PipelineCache", () => {
  it("compiles a kernel once for all the models that share it; each model still agrees", async () => {
    const graph = lowerFile("examples/lenet5.cnn");
    const weights = initWeights(graph, 2);
    const { device } = await gpu();
    const cache = new PipelineCache(device);
    const inputs = randomInput(graph, 2, 4);
    const want = interpret(graph, weights, inputs, 2).get("softmax_1")!;
    // the same network twice, then with one dense layer's kernel changed
    const f6: KernelChoice = { kernel: "gemv", shape: gemvCandidates[1]! };
    const bundles = [
      compileGraph({ ...graph, constants: weights }).bundle!,
      compileGraph({ ...graph, constants: weights }).bundle!,
      compileGraph({ ...graph, constants: weights }, { choices: new Map([["f6", f6]]) }).bundle!,
    ];
    const sizes: number[] = [];
    for (const bytes of bundles) {
      const model = await Model.create(bytes, device, undefined, undefined, { pipelines: cache });
      sizes.push(cache.size);
      const got = (await model.run(inputs, { batch: 2 })).softmax_1!.data;
      model.dispose();
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
    }
    const distinct = (b: Uint8Array) => new Set(parseBundle(b).manifest.kernels);
    expect(sizes[0]).toBe(distinct(bundles[0]!).size);
    expect(sizes[1]).toBe(sizes[0]); // nothing compiled again
    const added = [...distinct(bundles[2]!)].filter((k) => !distinct(bundles[0]!).has(k));
    expect(added.length).toBeGreaterThan(0);
    expect(sizes[2]).toBe(sizes[0]! + added.length); // only the kernels that changed
  });
  it("serves one device: a model on another is refused, not given its pipelines", async () => {
    const { device } = await gpu();
    const graph = lowerFile("examples/lenet5.cnn");
    const bytes = compileGraph({ ...graph, constants: initWeights(graph, 2) }).bundle!;
    const elsewhere = new PipelineCache({} as GPUDevice);
    await expect(
      Model.create(bytes, device, undefined, undefined, { pipelines: elsewhere }),
    ).rejects.toThrow("the pipeline cache given belongs to another device");
  });
  it("keeps no kernel that failed to compile", async () => {
    const { device } = await gpu();
    const cache = new PipelineCache(device);
    const failing = () => Promise.reject(new Error("does not compile"));
    await expect(cache.pipeline("fn main() {}", failing)).rejects.toThrow("does not compile");
    expect(cache.size).toBe(0);
  });
});

// The helper process `cnnc tune` starts on llvmpipe (cli/tune-ahead.ts), as the built CLI runs
// it: it compiles into Mesa's disk cache what the tuner will surely measure, in its order.
describe.skipIf(adapterChoice !== "llvmpipe")("cnnc tune's helper process", () => {
  it("compiles the untuned network, then each layer's first candidates in the tuner's order, into Mesa's cache", async () => {
    const graph = lowerFile("examples/lenet5.cnn");
    const optimized = runPasses({ ...graph, constants: initWeights(graph, 2) }, levels[2].passes);
    const network = { ...optimized, constants: optimized.constants! };
    const untuned = compileGraph(network, { passes: [], target: "cpu" }).bundle!;
    const cache = mkdtempSync(join(tmpdir(), "cnnc-mesa-"));
    const before = process.env.MESA_SHADER_CACHE_DIR;
    process.env.MESA_SHADER_CACHE_DIR = cache; // (the helper's, not this process's)
    const plan = { graph: network, batch: 1, target: "cpu" as const, exhaustive: false, untuned };
    const ahead = compileAhead({ kind: "llvmpipe" }, plan, "dist/cli/bin.js");
    if (before === undefined) delete process.env.MESA_SHADER_CACHE_DIR;
    else process.env.MESA_SHADER_CACHE_DIR = before;
    expect(ahead).toBeDefined();
    const { steps } = tuningPlan(network, { target: "cpu" });
    const surely = steps.flatMap((s, k) =>
      s.list.flatMap((_, i) => (surelyMeasured(i) ? [`${k}/${i}`] : [])),
    );
    const said: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        ahead!.child.on("message", (m: { kind: string; step: number; index: number }) => {
          said.push(`${m.kind} ${m.step}/${m.index}`);
          if (m.kind === "done" && said.length >= 2 * surely.length + 2) resolve();
        });
        ahead!.child.on("exit", () => reject(new Error(`the helper ended: ${said.join(", ")}`)));
      });
    } finally {
      ahead!.close();
    }
    expect(surely.length).toBe(3 * steps.length); // (LeNet-5's layers have 3 or more each)
    // (then the next of the layer the tuner is at: here the first, nothing being said)
    expect(said.slice(0, 2 * surely.length + 2)).toEqual(
      ["-1/0", ...surely].flatMap((key) => [`start ${key}`, `done ${key}`]),
    );
    // what it compiled is on disk, for the tuner's process to find
    const files = readdirSync(cache, { recursive: true, withFileTypes: true }).filter((f) =>
      f.isFile(),
    );
    expect(files.length).toBeGreaterThanOrEqual(surely.length);
    rmSync(cache, { recursive: true, force: true });
  });
});
