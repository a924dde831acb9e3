// f16 weights without a GPU: the half conversions against a brute-force oracle (the nearest of
// all 63,488 finite halves, listed from their bit patterns by the IEEE formula), the kernel
// rewrite (every weight access, nothing else), the bundle (version 4, half the bytes, named
// checks for a kernel that reads an f16 weight as f32), and the compiler's refusals.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { halfWeightKernel, halfWeights } from "../compiler/codegen/half-weights.js";
import { compileGraph } from "../compiler/compile.js";
import { CompileError } from "../compiler/errors.js";
import { initWeights } from "../compiler/weights/index.js";
import {
  beyondHalf,
  fromHalfBytes,
  halfBits,
  halfBytes,
  halfValue,
  packHalves,
  roundToHalf,
} from "../runtime/half.js";
import { parseBundle } from "../runtime/format.js";
import { manifestCheck } from "./support/bundle.js";
import { weightData } from "../runtime/weights.js";
import { lowerFile, lowerText } from "./support/compile.js";

/** Every finite half's value from its bits by the IEEE formula, sorted, with its bits. */
const halves = (() => {
  const list: { value: number; bits: number }[] = [];
  for (let bits = 0; bits < 0x10000; bits++) {
    const e = (bits >> 10) & 0x1f;
    const m = bits & 0x3ff;
    if (e === 0x1f) continue;
    const magnitude = e === 0 ? m / 1024 / 2 ** 14 : (1 + m / 1024) * 2 ** (e - 15);
    list.push({ value: bits & 0x8000 ? -magnitude : magnitude, bits });
  }
  return list.sort((a, b) => a.value - b.value);
})();

/** The half nearest x by search, ties to the even bit pattern; infinity past 65520. */
function nearest(x: number): number {
  if (Math.abs(x) >= 65520) return x > 0 ? 0x7c00 : 0xfc00;
  let lo = 0;
  let hi = halves.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (halves[mid]!.value <= x) lo = mid;
    else hi = mid;
  }
  const [a, b] = [halves[lo]!, halves[hi]!];
  const da = Math.abs(x - a.value);
  const db = Math.abs(x - b.value);
  const pick = da < db ? a : db < da ? b : a.bits & 1 ? b : a;
  // zero's sign follows x's (the oracle's list keeps -0 and +0 apart only by bits)
  if (pick.value === 0) return x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  return pick.bits;
}

describe("half conversions", () => {
  it("round every float to the nearest half, ties to even (a search of all halves agrees)", () => {
    const cases = [
      0,
      -0,
      1,
      -1,
      0.1,
      1 / 3,
      65504,
      65519.99,
      65520,
      -65520,
      1e-8,
      2 ** -24,
      2 ** -25,
      3 * 2 ** -26,
      2 ** -14,
      2 ** -14 - 2 ** -25,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      2048 + 1,
      2048 + 3,
      6.103515625e-5,
      5.960464477539063e-8,
    ];
    for (const x of cases) expect(halfBits(x), `${x}`).toBe(nearest(Math.fround(x)));
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
        expect(halfBits(x)).toBe(nearest(x));
      }),
      { numRuns: 3000 },
    );
  });
  it("read back every half exactly", () => {
    for (const { value, bits } of halves) {
      expect(halfValue(bits)).toBe(value);
      if (value !== 0) expect(halfBits(value)).toBe(bits);
    }
    expect(halfValue(0x7c00)).toBe(Infinity);
    expect(halfValue(0xfc00)).toBe(-Infinity);
    expect(halfValue(halfBits(NaN))).toBeNaN();
  });
  it("pack two halves to a u32, element 2i in the low half (as unpack2x16float reads it)", () => {
    const v = new Float32Array([1, -2, 0.5]);
    expect(Array.from(packHalves(v))).toEqual([0xc0003c00, 0x3800]);
    expect(Array.from(fromHalfBytes(halfBytes(v), 3))).toEqual([1, -2, 0.5]);
    expect(Array.from(roundToHalf(new Float32Array([0.1])))).toEqual([
      Math.fround(0.0999755859375),
    ]);
  });
  it("find a value no half holds", () => {
    expect(beyondHalf(new Float32Array([1, 65504, -65519]))).toBe(-1);
    expect(beyondHalf(new Float32Array([1, 2, -70000]))).toBe(2);
    expect(beyondHalf(new Float32Array([Infinity]))).toBe(-1); // (not finite in f32 either)
  });
});

describe("the kernel rewrite", () => {
  const kernel = [
    "struct Params { batch: u32 }",
    "@group(0) @binding(0) var<uniform> params: Params;",
    "@group(0) @binding(1) var<storage, read_write> x: array<f32>;",
    "@group(0) @binding(2) var<storage, read> w: array<f32>;",
    "@group(0) @binding(3) var<storage, read> v4: array<vec4<f32>>;",
    "@group(0) @binding(4) var<storage, read_write> y: array<f32>;",
    "@compute @workgroup_size(64, 1, 1)",
    "fn main(@builtin(global_invocation_id) gid: vec3u) {",
    "  let i = i32(gid.x);",
    "  y[gid.x] = x[gid.x] * w[w_index(i)] + w[u32(w[0] + 1.0)] + v4[gid.x].w;",
    "}",
  ].join("\n");
  it("reads every weight binding as packed halves, by index, nested accesses too", () => {
    const { wgsl, weights } = halfWeightKernel(kernel.replace("w_index(i)", "i"));
    expect(weights).toEqual([2, 3]);
    expect(wgsl).toContain("@group(0) @binding(2) var<storage, read> w_f16: array<u32>;");
    expect(wgsl).toContain("@group(0) @binding(3) var<storage, read> v4_f16: array<vec2<u32>>;");
    expect(wgsl).toContain(
      "fn w_at(i: u32) -> f32 { return unpack2x16float(w_f16[i >> 1u])[i & 1u]; }",
    );
    expect(wgsl).toContain(
      "y[gid.x] = x[gid.x] * w_at(u32(i)) + w_at(u32(u32(w_at(u32(0)) + 1.0))) + v4_at(u32(gid.x)).w;",
    );
    // activations (read_write) are left alone
    expect(wgsl).toContain("@group(0) @binding(1) var<storage, read_write> x: array<f32>;");
  });
  it("refuses a weight used other than by index", () => {
    expect(() => halfWeightKernel(kernel.replace("w[w_index(i)]", "arrayLength(&w)"))).toThrow(
      /other than by index/,
    );
  });
  it("checks each dispatch binds weights exactly where its kernel reads them", () => {
    const graph = lowerFile("examples/lenet5.cnn");
    const { plan } = compileGraph(graph, { seed: 1 });
    expect(() => halfWeights(plan!)).not.toThrow();
    const d = plan!.dispatches.find((x) => x.bindings.some((b) => "weight" in b))!;
    const swapped = {
      ...plan!,
      dispatches: [{ ...d, bindings: d.bindings.map(() => ({ value: "x" })) }],
    };
    expect(() => halfWeights(swapped)).toThrow(/declares read-only/);
  });
});

describe("a bundle of f16 weights", () => {
  const graph = lowerFile("examples/lenet5.cnn");
  const weights = initWeights(graph, 3);
  const build = (f16: boolean) =>
    compileGraph(
      { ...graph, constants: weights },
      { target: "any", ...(f16 ? { weightFormat: "f16" as const } : {}) },
    ).bundle!;
  const [full, half] = [build(false), build(true)];
  it("is format version 4 (version 3 without f16), its weights half the bytes", () => {
    const version = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(4, true);
    expect([version(full), version(half)]).toEqual([3, 4]);
    const [a, b] = [parseBundle(full).manifest, parseBundle(half).manifest];
    expect(b.weightFormat).toBe("f16");
    expect(a.weightFormat).toBeUndefined();
    for (const w of b.weights)
      if ("bytes" in w) expect(w.bytes).toBe(2 * w.shape.reduce((x, y) => x * y, 1));
    // a GPU's kernels read halves, the CPU emulations' variant f32 (widened at load)
    expect(b.halfWeights).toBe(true);
    expect(b.variants!.cpu!.halfWeights).toBeUndefined();
    const weightTypes = (kernels: readonly string[]) =>
      new Set(
        kernels.flatMap((k) =>
          [...k.matchAll(/var<storage, read> \w+: array<(.+)>;/g)].map((m) => m[1]),
        ),
      );
    const within = (types: Set<string | undefined>, allowed: string[]) =>
      expect([...types].filter((t) => !allowed.includes(t!))).toEqual([]);
    within(weightTypes(b.kernels), ["u32", "vec2<u32>"]);
    within(weightTypes(b.variants!.cpu!.kernels), ["f32", "vec4<f32>"]);
    within(weightTypes(a.kernels), ["f32", "vec4<f32>"]);
    expect(weightTypes(b.kernels).size).toBeGreaterThan(0);
  });
  it("holds the weights rounded to halves, which --cpu reads and each plan's kernels", () => {
    const { manifest, blob } = parseBundle(half);
    const data = weightData(manifest, blob);
    for (const [name, values] of data) {
      const source = weights.get(name);
      if (source) expect(Array.from(values)).toEqual(Array.from(roundToHalf(source)));
    }
  });
  it("names the check a kernel fails that reads an f16 weight as f32, and a bad weightFormat", () => {
    const { manifest } = parseBundle(half);
    const check = (m: unknown): string | undefined => manifestCheck(m, manifest.blobBytes);
    expect(check(manifest)).toBeUndefined();
    const asF32 = manifest.kernels.map((k) =>
      k.replace(/(\w+)_f16: array<u32>/, "$1_f16: array<f32>"),
    );
    // (without the GEMVs' subgroup forms, which would fail kernel-form first)
    const plain = { ...manifest, subgroupKernels: undefined };
    expect(check({ ...plain, kernels: asF32 })).toBe("weight-binding");
    // the f32 bundle's kernels over f16 weights, and f16 bytes read as f32
    const { manifest: f32 } = parseBundle(full);
    expect(check({ ...plain, kernels: f32.kernels })).toBe("weight-binding");
    const { weightFormat: _, halfWeights: _h, ...without } = manifest;
    expect(check(without)).toBe("weight-size");
    expect(check({ ...manifest, weightFormat: "f8" })).toBe("manifest-schema");
    // halves read from f32 weights; a plan reading halves whose kernels declare f32
    const { halfWeights: __, ...f32Reading } = plain;
    expect(check({ ...without, halfWeights: true })).toBe("manifest-schema");
    expect(check(f32Reading)).toBe("weight-binding");
    const cpu = manifest.variants!.cpu!;
    expect(check({ ...manifest, variants: { cpu: { ...cpu, halfWeights: true } } })).toBe(
      "weight-binding",
    );
  });
});

describe("the compiler's refusals", () => {
  it("refuses a weight beyond f16's range, naming it and the value", () => {
    const graph = lowerText("network N {\n  input x: [4]\n  dense(3)\n}");
    const weights = initWeights(graph, 1);
    const [name, w] = [...weights].find(([, v]) => v.length === 12)!;
    w[5] = 1e5;
    expect(() => compileGraph({ ...graph, constants: weights }, { weightFormat: "f16" })).toThrow(
      CompileError,
    );
    expect(() => compileGraph({ ...graph, constants: weights }, { weightFormat: "f16" })).toThrow(
      new RegExp(
        `weight '${name.replace(".", "\\.")}' holds 100000 \\(at 5\\), beyond f16's largest magnitude 65504`,
      ),
    );
  });
});
