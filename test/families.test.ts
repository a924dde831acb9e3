// Shape families (compiler/codegen/families.ts): kernels equal but for their sizes become one
// shader reading the sizes from its dispatch's uniform. What may and may not vary, and that
// the plans of the example networks shrink with every dispatch's sizes accounted for. That
// the merged shaders compute what the separate ones did is test/gpu/networks.test.ts's (every
// network there runs merged, against the reference) and test/gpu/runtime.test.ts's.
import { describe, expect, it } from "vitest";
import { shapeFamilies } from "../compiler/codegen/families.js";
import { planGraph } from "../compiler/codegen/index.js";
import type { PlanDispatch } from "../compiler/codegen/plan-types.js";
import { levels } from "../compiler/compile.js";
import { runPasses } from "../compiler/passes/index.js";
import { uniformSizes } from "../runtime/format.js";
import { lowerFile, lowerText } from "./support/compile.js";

const kernel = (consts: Record<string, number>, body: string, decls = ""): string =>
  [
    "struct Params { batch: u32 }",
    "@group(0) @binding(0) var<uniform> params: Params;",
    "@group(0) @binding(1) var<storage, read_write> y: array<f32>;",
    ...Object.entries(consts).map(([n, v]) => `const ${n}: u32 = ${v}u;`),
    ...(decls ? [decls] : []),
    "@compute @workgroup_size(64, 1, 1)",
    "fn main(@builtin(global_invocation_id) gid: vec3u) {",
    body,
    "}",
    "",
  ].join("\n");

const dispatch = (kernel: number): PlanDispatch => ({
  label: `d${kernel}`,
  kernel,
  bindings: [{ value: "y" }],
  grid: { kind: "flat", perBatch: 64, groupSize: 64 },
});

describe("shape families", () => {
  const body = "  let i = gid.x;\n  if (i < params.batch * N) { y[i] = f32(i % W) + f32(wid.x); }";

  it("merges kernels that differ only in sizes; the sizes they share stay constants", () => {
    const kernels = [
      kernel({ N: 100, W: 10, C: 3 }, body),
      kernel({ N: 400, W: 20, C: 3 }, body),
      kernel({ N: 100, W: 10, C: 3 }, body.replace("+ f32", "- f32")),
    ];
    const r = shapeFamilies(kernels, [0, 1, 2, 1].map(dispatch));
    expect(r.kernels).toHaveLength(2);
    const merged = r.kernels[0]!;
    expect(merged.split("\n")[0]).toBe("struct Params { batch: u32, N: u32, W: u32 }");
    expect(merged).toContain("const C: u32 = 3u;");
    expect(merged).not.toMatch(/const [NW]:/);
    // every use, and only uses: `params.batch` and `wid.x` are untouched
    expect(merged).toContain(
      "if (i < params.batch * params.N) { y[i] = f32(i % params.W) + f32(wid.x); }",
    );
    expect(uniformSizes(merged)).toBe(2);
    expect(r.dispatches.map((d) => [d.kernel, d.params])).toEqual([
      [0, [100, 10]],
      [0, [400, 20]],
      [1, undefined],
      [0, [400, 20]],
    ]);
    expect(r.kernels[1]).toBe(kernels[2]);
  });

  it("keeps a size a constant where WGSL needs one, splitting the family by its value", () => {
    const tile = "var<workgroup> tile: array<f32, T>;";
    const kernels = [
      kernel({ N: 100, T: 64 }, body.replace("% W", "% T"), tile),
      kernel({ N: 200, T: 64 }, body.replace("% W", "% T"), tile),
      kernel({ N: 300, T: 32 }, body.replace("% W", "% T"), tile),
    ];
    const r = shapeFamilies(kernels, [0, 1, 2].map(dispatch));
    expect(r.kernels).toHaveLength(2);
    expect(r.kernels[0]).toContain("const T: u32 = 64u;");
    expect(r.kernels[0]!.split("\n")[0]).toBe("struct Params { batch: u32, N: u32 }");
    expect(r.kernels[1]).toBe(kernels[2]); // alone with T = 32: as it was
    expect(r.dispatches.map((d) => d.params)).toEqual([[100], [200], undefined]);
  });

  it("keeps a size constant when a local, a parameter or another constant shares its name", () => {
    for (const clash of [
      "  let N = 4u;",
      "  const M = N * 2u;",
      "  switch (gid.y) { case N: { } default: { } }",
    ]) {
      const kernels = [
        kernel({ N: 1 }, `${clash}\n${body}`),
        kernel({ N: 2 }, `${clash}\n${body}`),
      ];
      // N is the only size, and it may not vary here: nothing merges
      expect(shapeFamilies(kernels, [0, 1].map(dispatch)).kernels).toEqual(kernels);
    }
    const helper = "fn f(N: u32) -> u32 { return N; }";
    const kernels = [kernel({ N: 1 }, body, helper), kernel({ N: 2 }, body, helper)];
    expect(shapeFamilies(kernels, [0, 1].map(dispatch)).kernels).toEqual(kernels);
  });

  it("leaves the kernels the caller keeps apart (one thread per output) as they are", () => {
    const kernels = [kernel({ N: 100 }, body), kernel({ N: 200 }, body), kernel({ N: 300 }, body)];
    const r = shapeFamilies(kernels, [0, 1, 2].map(dispatch), (k) => k !== 1);
    expect(r.kernels).toHaveLength(2);
    expect(r.kernels[1]).toBe(kernels[1]);
    expect(r.dispatches.map((d) => [d.kernel, d.params])).toEqual([
      [0, [100]],
      [1, undefined],
      [0, [300]],
    ]);
  });

  it("merges kernels' subgroup forms as their kernels, or keeps members whose forms differ apart", () => {
    const sub = (k: string): string =>
      [
        "enable subgroups;",
        "diagnostic(off, subgroup_uniformity);",
        k.replace("+ f32", "* f32"),
      ].join("\n");
    const kernels = [
      kernel({ N: 100, W: 10 }, body),
      kernel({ N: 400, W: 20 }, body),
      kernel({ N: 200, W: 10 }, body),
    ];
    // kernels 0 and 1 have forms; 2 has none, so it is no member of their family
    const r = shapeFamilies(kernels, [0, 1, 2].map(dispatch), () => true, {
      0: sub(kernels[0]!),
      1: sub(kernels[1]!),
    });
    expect(r.kernels).toHaveLength(2);
    expect(r.dispatches.map((d) => [d.kernel, d.params])).toEqual([
      [0, [100, 10]],
      [0, [400, 20]],
      [1, undefined],
    ]);
    expect(Object.keys(r.subgroupKernels)).toEqual(["0"]);
    const form = r.subgroupKernels[0]!.split("\n");
    // the directives stay first, the uniform's header is rewritten as the kernel's
    expect(form.slice(0, 3)).toEqual([
      "enable subgroups;",
      "diagnostic(off, subgroup_uniformity);",
      r.kernels[0]!.split("\n")[0],
    ]);
    expect(r.subgroupKernels[0]).toContain("f32(i % params.W) * f32(wid.x)");
    expect(r.subgroupKernels[0]).not.toMatch(/const [NW]:/);
    // a form that cannot read a size from the uniform keeps the family apart
    const pinned = (k: string) =>
      sub(k).replace("@compute", "var<workgroup> t: array<f32, W>;\n@compute");
    const apart = shapeFamilies(kernels.slice(0, 2), [0, 1].map(dispatch), () => true, {
      0: pinned(kernels[0]!),
      1: pinned(kernels[1]!),
    });
    expect(apart.kernels).toHaveLength(2);
    expect(apart.subgroupKernels).toEqual({ 0: pinned(kernels[0]!), 1: pinned(kernels[1]!) });
  });

  it("every size: a family of one reads its sizes from the uniform, one text for two shapes", () => {
    const plan = (c: number, hw: number, everySize: boolean) =>
      planGraph(
        lowerText(`network N {\n  input x: [${c}, ${hw}, ${hw}]\n  conv(16, 3, pad=1) -> relu\n}`),
        { target: "cpu", ...(everySize ? { shapeFamilies: "every size" as const } : {}) },
      );
    const [a, b] = [plan(24, 12, true), plan(40, 20, true)];
    // (the conv's kernel; the relu's, one thread per output, keeps its size constant)
    expect(a.kernels[0]).toEqual(b.kernels[0]);
    expect(a.dispatches[0]!.params).not.toEqual(b.dispatches[0]!.params);
    expect(uniformSizes(a.kernels[0]!)).toBe(a.dispatches[0]!.params!.length);
    // by default a family of one keeps its sizes constant
    const [c, d] = [plan(24, 12, false), plan(40, 20, false)];
    expect(c.kernels[0]).not.toEqual(d.kernels[0]);
    expect(c.dispatches[0]!.params).toBeUndefined();
    // a loop of a few iterations keeps its bound: 3 input channels stay a constant
    const few = plan(3, 12, true);
    expect(few.kernels[0]).toMatch(/^const C: u32 = 3u;$/m);
    expect(few.kernels[0]).not.toEqual(a.kernels[0]);
  });

  it("leaves a kernel without buildShader's uniform header as it is", () => {
    const odd = kernel({ N: 1 }, body).replace("{ batch: u32 }", "{ batch: u32, pad: u32 }");
    const r = shapeFamilies([odd, odd.replace("= 1u", "= 2u")], [0, 1].map(dispatch));
    expect(r.kernels).toEqual([odd, odd.replace("= 1u", "= 2u")]);
    expect(r.dispatches.every((d) => d.params === undefined)).toBe(true);
  });

  it("shrinks the example networks' plans; every dispatch gives its kernel's sizes", () => {
    for (const [net, target, before, after] of [
      ["mobilenet_v1", "cpu", 21, 16],
      ["mobilenet_v1", "gpu", 0, 0],
      ["resnet18", "cpu", 21, 15],
      ["googlenet", "cpu", 72, 35],
      ["googlenet", "gpu", 0, 0],
    ] as const) {
      const graph = runPasses(lowerFile(`examples/${net}.cnn`), levels[2].passes);
      const options = { planMemory: true, eliminateConcat: true, target } as const;
      const separate = planGraph(graph, { ...options, shapeFamilies: false });
      const merged = planGraph(graph, options);
      if (before) expect([net, separate.kernels.length]).toEqual([net, before]);
      if (after) expect([net, merged.kernels.length]).toEqual([net, after]);
      expect(merged.kernels.length).toBeLessThan(separate.kernels.length);
      expect(merged.dispatches.map((d) => d.label)).toEqual(
        separate.dispatches.map((d) => d.label),
      );
      for (const d of merged.dispatches) {
        expect(d.params?.length ?? 0).toBe(uniformSizes(merged.kernels[d.kernel]!));
      }
      // the same values, weights and memory: only kernels and dispatches' kernels change
      expect(merged.values).toEqual(separate.values);
      expect(merged.weights).toEqual(separate.weights);
    }
  });
});
