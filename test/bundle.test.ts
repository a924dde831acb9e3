// The bundle format: what the writer writes the reader reads back; every kind of corruption is
// a named BundleError, never a crash, a hang or a quietly wrong model.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { writeBundle } from "../compiler/bundle/index.js";
import { planGraph } from "../compiler/codegen/index.js";
import { printIr } from "../compiler/ir/index.js";
import { initWeights } from "../compiler/weights/index.js";
import {
  adapterClass,
  BundleError,
  isDerived,
  manifestFor,
  parseBundle,
  quickManifestFor,
  type Manifest,
  type StoredWeight,
} from "../runtime/index.js";
import { readFileSync } from "node:fs";
import { compileGraph, quickStartPays } from "../compiler/compile.js";
import { wgslBytes } from "../runtime/format.js";
import { manifestCheck, withManifest } from "./support/bundle.js";
import { bundleReference } from "../compiler/bundle/index.js";
import { CompileError } from "../compiler/errors.js";
import { lowerFile, lowerText } from "./support/compile.js";

const graph = lowerFile("examples/lenet5.cnn");
const weights = initWeights(graph, 3);
const plan = planGraph(graph);
const bytes = writeBundle(plan, weights, printIr(graph));

function checkOf(b: Uint8Array): string | undefined {
  try {
    parseBundle(b);
    return undefined;
  } catch (e) {
    if (e instanceof BundleError) return e.check;
    throw e;
  }
}

describe("bundle round trip", () => {
  it("reads back the plan, the IR and every weight bit for bit", () => {
    const { manifest, blob } = parseBundle(bytes);
    expect(manifest.network).toBe("LeNet5");
    expect(manifest.kernels).toEqual(plan.kernels);
    expect(manifest.dispatches).toEqual(plan.dispatches);
    expect(manifest.values).toEqual(plan.values);
    expect(manifest.ir).toBe(printIr(graph));
    for (const w of manifest.weights) {
      if (isDerived(w)) continue;
      expect(w.offset % 256).toBe(0);
      const copy = new Uint8Array(blob.subarray(w.offset, w.offset + w.bytes));
      expect(new Float32Array(copy.buffer)).toEqual(weights.get(w.name));
    }
  });

  it("dedupes identical kernels", () => {
    const p = planGraph(lowerFile("examples/vgg16.cnn"));
    expect(p.kernels.length).toBeLessThan(p.dispatches.length);
    expect(new Set(p.kernels).size).toBe(p.kernels.length);
  });

  it("splits a dense weight over the binding limit into row ranges (VGG-16's 411 MB fc6)", () => {
    const p = planGraph(lowerFile("examples/vgg16.cnn"));
    const parts = p.weights.filter((w) => w.source === "dense_1.weight");
    expect(parts.map((w) => w.rows)).toEqual([
      [0, 1337],
      [1337, 2674],
      [2674, 4011],
      [4011, 4096],
    ]);
    expect(parts.every((w) => w.shape[0]! * 25088 * 4 <= 128 * 1024 * 1024)).toBe(true);
  });
});

/** The check a manifest fails (undefined: none); its blob's size is taken as it says. */
function validationOf(
  manifest: Omit<Manifest, "variants" | "quick"> & Record<string, unknown>,
): string | undefined {
  return manifestCheck(manifest, manifest.blobBytes);
}

describe("a bundle for any adapter (--target any)", () => {
  const tiny = lowerFile("examples/tiny.cnn");
  const built = compileGraph(tiny, { seed: 2, target: "any" });
  const { manifest } = parseBundle(built.bundle!);
  it("carries the CPU emulations' kernels beside a GPU's, the weights stored once", () => {
    expect(built.cpuPlan).toBeDefined();
    expect(manifest.kernels).toEqual(built.plan!.kernels);
    const cpu = manifest.variants?.cpu;
    expect(cpu?.kernels).toEqual(built.cpuPlan!.kernels);
    expect(cpu?.kernels.some((k) => k.includes("let seg = "))).toBe(true); // the blocked kernel
    expect(cpu?.weights.every(isDerived)).toBe(true);
    const one = compileGraph(tiny, { seed: 2, target: "gpu" }).bundle!;
    const stored = (b: Uint8Array) => parseBundle(b).manifest.weights.filter((w) => !isDerived(w));
    expect(stored(built.bundle!)).toEqual(stored(one));
  });
  it("gives an adapter of each class its own", () => {
    const cpu = manifestFor(manifest, "cpu");
    expect(cpu.kernels).toEqual(built.cpuPlan!.kernels);
    expect(cpu.dispatches).toEqual(built.cpuPlan!.dispatches);
    expect(cpu.variants).toBeUndefined();
    expect(manifestFor(manifest, "gpu").kernels).toEqual(built.plan!.kernels);
    // a bundle without variants runs its own everywhere
    const plain = parseBundle(bytes).manifest;
    expect(manifestFor(plain, "cpu").kernels).toEqual(plain.kernels);
  });
  it("tells CPU emulations from GPUs by the adapter's description", () => {
    const info = (o: Partial<GPUAdapterInfo>) =>
      ({ vendor: "", architecture: "", device: "", description: "", ...o }) as GPUAdapterInfo;
    expect(adapterClass(info({ device: "llvmpipe-llvm-15-0-6-256-bits-" }))).toBe("cpu");
    expect(adapterClass(info({ vendor: "google", architecture: "swiftshader" }))).toBe("cpu");
    expect(adapterClass(info({ description: "Microsoft Basic Render Driver" }))).toBe("cpu");
    expect(adapterClass(info({ vendor: "nvidia", architecture: "hopper" }))).toBe("gpu");
    expect(adapterClass(info({ vendor: "apple", architecture: "metal-3" }))).toBe("gpu");
    expect(adapterClass(undefined)).toBe("gpu");
  });
  it("checks a variant as the manifest it stands for", () => {
    const check = (variants: unknown) => validationOf({ ...manifest, variants });
    const cpu = manifest.variants!.cpu!;
    expect(check({ cpu })).toBeUndefined();
    expect(check({ tpu: cpu })).toBe("manifest-schema");
    expect(check({ cpu: { ...cpu, weights: manifest.weights } })).toBe("manifest-schema");
    const d0 = cpu.dispatches[0]!;
    const unknown = { ...d0, bindings: [{ value: "nowhere" }, ...d0.bindings.slice(1)] };
    expect(check({ cpu: { ...cpu, dispatches: [unknown] } })).toBe("unknown-reference");
    expect(check({ cpu: { ...cpu, arena: 1 } })).toBe("value-range");
    expect(check({ cpu: { ...cpu, kernels: [] } })).toBe("unknown-reference");
  });
});

describe("a quick start for CPU emulations", () => {
  const tiny = lowerFile("examples/tiny.cnn");
  const built = compileGraph(tiny, { seed: 2, target: "any", quickStart: "always" });
  const { manifest } = parseBundle(built.bundle!);
  const wgsl = wgslBytes;
  it("carries kernels quicker to compile: the smallest register blocks, fewer shaders", () => {
    const quick = manifest.quick?.cpu;
    expect(quick?.kernels).toEqual(built.quickPlan!.kernels);
    expect(manifest.quick?.gpu).toBeUndefined();
    expect(wgsl(quick!.kernels)).toBeLessThan(wgsl(built.cpuPlan!.kernels));
    expect(quick!.kernels.length).toBeLessThanOrEqual(built.cpuPlan!.kernels.length);
    // 4x4 register blocks: 16 accumulators a thread in the blocked and pointwise convs
    expect(quick!.kernels.some((k) => k.includes("let seg = ") && k.includes("var a3_3"))).toBe(
      true,
    );
    expect(quick!.kernels.some((k) => k.includes("var a3_4") || k.includes("var a4_0"))).toBe(
      false,
    );
    const q = quickManifestFor(manifest, "cpu")!;
    expect(q.kernels).toEqual(quick!.kernels);
    expect(q.quick).toBeUndefined();
    expect(quickManifestFor(manifest, "gpu")).toBeUndefined();
  });
  it("where it saves most of the compiling: large networks for a CPU emulation", () => {
    const at64 = (file: string) =>
      lowerText(readFileSync(file, "utf8").replace("[3, 224, 224]", "[3, 64, 64]"));
    for (const file of ["examples/googlenet.cnn", "examples/resnet18.cnn"]) {
      const c = compileGraph(at64(file), { seed: 1, target: "cpu" });
      expect(c.quickPlan, file).toBeDefined();
      expect(quickStartPays(c.plan!, c.quickPlan!)).toBe(true);
      expect(wgsl(c.quickPlan!.kernels) * 2).toBeLessThanOrEqual(wgsl(c.plan!.kernels));
      expect(compileGraph(at64(file), { seed: 1, target: "gpu" }).quickPlan).toBeUndefined();
      const off = compileGraph(at64(file), { seed: 1, target: "cpu", quickStart: false });
      expect(parseBundle(off.bundle!).manifest.quick).toBeUndefined();
    }
    // without shape families the chosen plan's kernels are specialised to their layers; the
    // quick start still shares one shader per family
    const googlenet = at64("examples/googlenet.cnn");
    const specialised = compileGraph(googlenet, { seed: 1, target: "cpu", shapeFamilies: false });
    const families = compileGraph(googlenet, { seed: 1, target: "cpu" });
    expect(specialised.plan!.kernels.length).toBeGreaterThan(families.plan!.kernels.length);
    expect(specialised.plan!.dispatches.every((d) => d.params === undefined)).toBe(true);
    expect(specialised.quickPlan!.kernels).toEqual(families.quickPlan!.kernels);
    // LeNet-5's kernels compile in a moment: a second plan would only add to that
    expect(compileGraph(lowerFile("examples/lenet5.cnn"), { target: "cpu" }).quickPlan).toBe(
      undefined,
    );
  });
  it("is checked as the manifest it stands for", () => {
    const check = (quick: unknown) => validationOf({ ...manifest, quick });
    const cpu = manifest.quick!.cpu!;
    expect(check({ cpu })).toBeUndefined();
    expect(check([cpu])).toBe("manifest-schema");
    expect(check({ fast: cpu })).toBe("manifest-schema");
    expect(check({ cpu: { ...cpu, weights: manifest.weights } })).toBe("manifest-schema");
    const family = cpu.dispatches.findIndex((d) => (d.params?.length ?? 0) > 0);
    expect(family).toBeGreaterThanOrEqual(0);
    const d = cpu.dispatches[family]!;
    const dispatches = cpu.dispatches.map((x, i) =>
      i === family ? { ...d, params: d.params!.slice(1) } : x,
    );
    expect(check({ cpu: { ...cpu, dispatches } })).toBe("kernel-params");
    expect(check({ cpu: { ...cpu, arena: 1 } })).toBe("value-range");
  });
});

describe("kernels' subgroup forms", () => {
  const { manifest } = parseBundle(bytes);
  const forms = manifest.subgroupKernels ?? {};

  it("stand for the dense layers' GEMV kernels; a device with subgroups runs them", () => {
    const dense = new Set(
      manifest.dispatches.filter((d) => /^(f6|output_layer)/.test(d.label)).map((d) => d.kernel),
    );
    expect(Object.keys(forms).map(Number).sort()).toEqual([...dense].sort());
    expect(manifestFor(manifest, "gpu").kernels).toEqual(manifest.kernels);
    const sub = manifestFor(manifest, "gpu", new Set(["subgroups", "timestamp-query"]));
    expect(sub.subgroupKernels).toBeUndefined();
    sub.kernels.forEach((k, i) => expect(k).toBe(forms[i] ?? manifest.kernels[i]));
    expect(sub.kernels.filter((k) => k.startsWith("enable subgroups;"))).toHaveLength(dense.size);
  });

  it("for global pooling in a GPU's plan only: on SwiftShader's 4 lanes it ran slower", () => {
    const g = lowerText(
      "network P {\n  input x: [256, 7, 7]\n  globalavgpool\n  flatten\n  dense(300)\n  softmax\n}",
    );
    const kinds = (target: "gpu" | "cpu") => {
      const p = planGraph(g, { target });
      return Object.keys(p.subgroupKernels ?? {})
        .map((k) => p.dispatches.find((d) => d.kernel === Number(k))!.label)
        .sort();
    };
    const labels = g.nodes.map((n) => n.name);
    const [pool, , fc, softmax] = labels;
    expect(kinds("gpu")).toEqual([fc, pool, softmax].sort());
    expect(kinds("cpu")).toEqual([fc, softmax].sort());
  });

  it("are checked: each names a kernel, enables subgroups and declares that kernel's bindings", () => {
    const check = (subgroupKernels: unknown): string | undefined =>
      manifestCheck({ ...manifest, subgroupKernels }, manifest.blobBytes);
    const [k, form] = Object.entries(forms)[0]!;
    expect(check(forms)).toBe(undefined);
    expect(check({ [manifest.kernels.length]: form })).toBe("unknown-reference");
    expect(check({ "01": form })).toBe("unknown-reference");
    expect(check([form])).toBe("manifest-schema");
    expect(check({ [k]: 7 })).toBe("manifest-schema");
    expect(check({ [k]: form.replace("enable subgroups;\n", "") })).toBe("kernel-form");
    // another kernel's bindings, one binding fewer, another uniform
    const other = manifest.kernels.findIndex((_, i) => forms[i] === undefined);
    expect(check({ [other]: form })).toBe("kernel-form");
    expect(check({ [k]: form.replace(/^@group\(0\) @binding\(2\).*$/m, "") })).toBe("kernel-form");
    expect(
      check({ [k]: form.replace(/^struct Params \{[^}]*\}/m, "struct Params { batch: u32 }") }),
    ).toBe("kernel-form");
  });
});

describe("corrupt bundles", () => {
  it("names the check a file fails", () => {
    const bad = (f: (b: Uint8Array) => void): string | undefined => {
      const b = bytes.slice();
      f(b);
      return checkOf(b);
    };
    expect(bad((b) => b.set([0x50, 0x4b], 0))).toBe("magic");
    expect(bad((b) => new DataView(b.buffer).setUint32(4, 99, true))).toBe("version");
    expect(bad((b) => (b[20] = b[20]! ^ 0x01))).toBe("manifest-checksum");
    expect(bad((b) => (b[b.length - 3] = b[b.length - 3]! ^ 0xff))).toBe("weight-checksum");
    expect(checkOf(bytes.subarray(0, 10))).toBe("truncated");
    expect(checkOf(bytes.subarray(0, bytes.length - 1))).toBe("truncated");
  });

  it("checks what the manifest says against itself: overlapping and derived weights", () => {
    const { manifest } = parseBundle(bytes);
    const check = (m: unknown): string | undefined => manifestCheck(m, manifest.blobBytes);
    const stored = manifest.weights.filter((w) => !isDerived(w)) as StoredWeight[];
    const [a, b] = [stored[0]!, stored[1]!];
    // two tensors sharing bytes: a small file must not read as a large one
    const overlap = { ...b, offset: a.offset, bytes: a.bytes, shape: a.shape, crc32: a.crc32 };
    expect(check({ ...manifest, weights: [a, overlap] })).toBe("weight-overlap");
    const conv = stored.find((w) => w.name === "c3.weight")!; // [16, 6, 5, 5]
    const derived = (d: object) => ({ ...manifest, weights: [...stored, { name: "d", ...d }] });
    expect(check(derived({ shape: [16, 5, 5, 6], source: "c3.weight", transform: "hwc" }))).toBe(
      undefined,
    );
    expect(check(derived({ shape: [16, 6, 5, 5], source: "c3.weight", transform: "hwc" }))).toBe(
      "weight-derivation",
    );
    expect(check(derived({ shape: [16, 16, 6], source: "c3.weight", transform: "winograd" }))).toBe(
      "weight-derivation",
    );
    expect(
      check(
        derived({ shape: [4, 6, 5, 5], source: "c3.weight", transform: "rows", rows: [12, 16] }),
      ),
    ).toBe(undefined);
    expect(
      check(
        derived({ shape: [4, 6, 5, 5], source: "c3.weight", transform: "rows", rows: [14, 18] }),
      ),
    ).toBe("weight-derivation");
    expect(check(derived({ shape: [16, 5, 5, 6], source: "nothing", transform: "hwc" }))).toBe(
      "weight-derivation",
    );
    expect(check(derived({ shape: [16, 5, 5, 6], source: "c3.weight", transform: "flip" }))).toBe(
      "manifest-schema",
    );
    expect(conv.shape).toEqual([16, 6, 5, 5]);
    // a dispatch binding fewer buffers than its kernel declares
    const [first, ...rest] = manifest.dispatches;
    const short = { ...first!, bindings: first!.bindings.slice(1) };
    expect(check({ ...manifest, dispatches: [short, ...rest] })).toBe("binding-count");
    // a shape family's dispatch (c1 and c3 share a shader) giving its kernel too few or too
    // many sizes, or sizes that are no u32; a kernel without the uniform's struct
    expect(first!.params).toHaveLength(8);
    const sized = (params: unknown) => ({
      ...manifest,
      dispatches: [{ ...first!, params }, ...rest],
    });
    expect(check(sized(first!.params!.slice(1)))).toBe("kernel-params");
    expect(check(sized([...first!.params!, 3]))).toBe("kernel-params");
    expect(check(sized(undefined))).toBe("kernel-params");
    expect(check(sized(first!.params!.map((v, i) => (i ? v : 2 ** 32))))).toBe("manifest-schema");
    expect(check(sized(first!.params!.map((v, i) => (i ? v : -1))))).toBe("manifest-schema");
    const tanh = manifest.dispatches[1]!;
    expect(tanh.params).toBeUndefined();
    const dispatches = [first!, { ...tanh, params: [4] }, ...rest.slice(1)];
    expect(check({ ...manifest, dispatches })).toBe("kernel-params");
    const kernels = manifest.kernels.map((k, i) =>
      i === tanh.kernel ? k.replace("struct Params { batch: u32 }", "struct P { batch: u32 }") : k,
    );
    expect(check({ ...manifest, kernels })).toBe("kernel-params");
    // an input or output whose shape is not its value's size (the run once returned zeros)
    const [input] = manifest.inputs;
    expect(check({ ...manifest, inputs: [{ ...input, shape: [1, 16, 16] }] })).toBe(
      "shape-mismatch",
    );
    const [output] = manifest.outputs;
    expect(check({ ...manifest, outputs: [{ ...output, shape: [11] }] })).toBe("shape-mismatch");
  });

  it("any truncation is a BundleError", () => {
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), (n) => {
        expect(checkOf(bytes.subarray(0, n))).toBeDefined();
      }),
      { numRuns: 300 },
    );
  });

  it(
    "any flipped byte is a BundleError, or lands in padding and changes nothing",
    { timeout: 60_000 },
    () => {
      const original = parseBundle(bytes);
      fc.assert(
        fc.property(
          fc.nat({ max: bytes.length - 1 }),
          fc.integer({ min: 1, max: 255 }),
          (at, mask) => {
            const b = bytes.slice();
            b[at] = b[at]! ^ mask;
            if (checkOf(b) === undefined) {
              const again = parseBundle(b);
              expect(again.manifest).toEqual(original.manifest);
              for (const w of again.manifest.weights) {
                if (isDerived(w)) continue;
                expect(again.blob.subarray(w.offset, w.offset + w.bytes)).toEqual(
                  original.blob.subarray(w.offset, w.offset + w.bytes),
                );
              }
            }
          },
        ),
        { numRuns: 200 },
      );
    },
  );
});

describe("a bundle on the CPU reference", () => {
  it("runs its IR on its stored tensors", () => {
    const { graph: g, weights: w } = bundleReference(parseBundle(bytes));
    expect(g.outputs.map((o) => o.name)).toEqual(["softmax_1"]);
    expect(w.get("c1.weight")).toEqual(weights.get("c1.weight"));
  });

  it("refuses an IR that is not the manifest's network, or not well-formed", () => {
    const renamed = withManifest(bytes, (m) => ({
      ...m,
      outputs: m.outputs.map((o) => ({ ...o, name: "other" })),
    }));
    expect(() => bundleReference(parseBundle(renamed))).toThrow(CompileError);
    expect(() => bundleReference(parseBundle(renamed))).toThrow(/not the ones its manifest lists/);
    const broken = withManifest(bytes, (m) => ({
      ...m,
      ir: m.ir!.replace("%c1 =", "%c1 = %c1 ="),
    }));
    expect(() => bundleReference(parseBundle(broken))).toThrow(/its IR is not well-formed/);
  });
});
