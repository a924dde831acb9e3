// A bundle is complete: `cnnc run --cpu` on it (bundleReference: its IR on its stored tensors)
// computes what its GPU kernels compute, for every kernel kind whose weights are derived at
// load (Winograd's transform, the NHWC permutation, split dense rows) or that reads weights in
// a form of its own (split-K, the pointwise kernel, the GEMV). Bundles once ran `--cpu` with
// zero weights for every layer built with Winograd or the NHWC GEMM. Each kind is built with
// f32 weights and with f16 ones (cnnc build --f16: the reference then runs on the halves the
// bundle stores, which the kernels read packed two to a u32).
import { describe, expect, it } from "vitest";
import { bundleReference } from "../../compiler/bundle/index.js";
import {
  defaultTiles,
  pointwiseCandidates,
  splitKApplies,
  winogradApplies,
  type KernelChoice,
} from "../../compiler/codegen/index.js";
import { compileGraph } from "../../compiler/compile.js";
import { interpret } from "../../compiler/interp/index.js";
import { valueShapes, type Graph } from "../../compiler/ir/index.js";
import { adapterClass, isDerived, Model, parseBundle } from "../../runtime/index.js";
import { lowerText } from "../support/compile.js";
import { splitKNet, winogradNet } from "./nets.js";
import { adapterChoice, gpu, randomInput } from "./support.js";

interface Kind {
  readonly name: string;
  readonly net: string;
  readonly choose: (g: Graph) => Map<string, KernelChoice>;
  readonly layout?: "nhwc";
  readonly maxBindingBytes?: number;
  /** The derived weight transform the bundle must hold, if any. */
  readonly transform?: "winograd" | "hwc" | "rows";
}

function each(pick: (n: Graph["nodes"][number], g: Graph) => KernelChoice | undefined) {
  return (g: Graph): Map<string, KernelChoice> => {
    const m = new Map<string, KernelChoice>();
    for (const n of g.nodes) {
      const c = pick(n, g);
      if (c) m.set(n.name, c);
    }
    return m;
  };
}

const kinds: Kind[] = [
  {
    name: "Winograd",
    net: winogradNet(),
    choose: each((n) =>
      winogradApplies(n) ? { kernel: "winograd", tiles: defaultTiles } : undefined,
    ),
    transform: "winograd",
  },
  {
    name: "GEMM over NHWC",
    net: winogradNet("conv(8, 1) -> relu"),
    layout: "nhwc",
    choose: each((n) =>
      n.op === "conv2d" && n.attrs.g === 1
        ? { kernel: "gemm", tiles: defaultTiles, layout: "nhwc" }
        : undefined,
    ),
    transform: "hwc",
  },
  {
    name: "split-K",
    net: splitKNet(),
    choose: each((n, g) =>
      splitKApplies(n, valueShapes(g).get(n.inputs[0]!))
        ? { kernel: "splitk", tiles: defaultTiles, parts: 4 }
        : undefined,
    ),
  },
  {
    name: "pointwise",
    net: `network P {\n  input x: [8, 6, 5]\n  conv(16, 1) -> relu -> conv(12, 1)\n}`,
    choose: each((n) =>
      n.op === "conv2d" ? { kernel: "pointwise", blocks: pointwiseCandidates[0]! } : undefined,
    ),
  },
  {
    name: "GEMV with dense rows split over bindings",
    net: `network D {\n  input x: [40]\n  dense(23) -> relu -> dense(9)\n}`,
    maxBindingBytes: 1024,
    choose: () => new Map(),
    transform: "rows",
  },
];

/** Every output within `tolerance` of the reference's scale, and the reference not constant. */
function expectClose(
  graph: Graph,
  want: ReturnType<typeof interpret>,
  got: Readonly<Record<string, { readonly data: Float32Array }>>,
  what: string,
  tolerance = 1e-4,
): void {
  for (const o of graph.outputs) {
    const ref = want.get(o.name)!;
    const out = got[o.name]!.data;
    const scale = Math.max(1, ...Array.from(ref, Math.abs));
    let worst = 0;
    ref.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - out[i]!) / scale)));
    expect(worst, `${what}: ${o.name}`).toBeLessThan(tolerance);
    // a reference on zero weights would give a constant output
    expect(new Set(Array.from(ref)).size).toBeGreaterThan(1);
  }
}

describe("--cpu on a bundle runs what its GPU kernels run", () => {
  // (f16: every kind on llvmpipe; on SwiftShader, whose compiles take ten times as long, the
  // GEMVs, whose subgroup forms run there alone)
  const f16Too = (k: Kind) => adapterChoice !== "swiftshader" || k.name.startsWith("GEMV");
  for (const [kind, f16] of kinds.flatMap((k) =>
    f16Too(k) ? [[k, false] as const, [k, true] as const] : [[k, false] as const],
  )) {
    it(`${kind.name}${f16 ? ", f16 weights" : ""}`, async () => {
      const source = lowerText(kind.net);
      const optimized = compileGraph(source, { seed: 5, passesOnly: true }).graph;
      const choices = kind.choose(optimized);
      // every kind but the GEMV (dense layers' default) is asked for layer by layer
      if (!kind.name.startsWith("GEMV")) expect(choices.size).toBeGreaterThan(0);
      const { bundle } = compileGraph(source, {
        seed: 5,
        choices,
        ...(kind.layout ? { layout: kind.layout } : {}),
        ...(kind.maxBindingBytes ? { maxBindingBytes: kind.maxBindingBytes } : {}),
        tuning: { adapter: "test", layers: {} },
        ...(f16 ? { weightFormat: "f16" as const } : {}),
      });
      const parsed = parseBundle(bundle!);
      expect(parsed.manifest.weightFormat).toBe(f16 ? "f16" : undefined);
      if (kind.transform) {
        expect(
          parsed.manifest.weights.some((w) => isDerived(w) && w.transform === kind.transform),
        ).toBe(true);
      }
      const batch = 2;
      const inputs = randomInput(source, batch, 11);
      const { graph, weights } = bundleReference(parsed);
      const want = interpret(graph, weights, inputs, batch);
      const model = await Model.create(bundle!, (await gpu()).device);
      try {
        const got = await model.run(inputs, { batch });
        // Winograd's transform of the halves is rounded to halves again for its buffer: each U
        // within 2^-11 of the reference's, as the stored weights are of the f32 ones.
        const rounded = f16 && kind.transform === "winograd";
        expectClose(graph, want, got, kind.name, rounded ? 2e-3 : 1e-4);
      } finally {
        model.dispose();
      }
    });
  }
});

describe("a bundle for any adapter", () => {
  it("runs its adapter class's kernels (CPU emulations': the blocked convs) and agrees with the reference", async () => {
    const source = lowerText(winogradNet());
    const { bundle, plan, cpuPlan } = compileGraph(source, { seed: 4, target: "any" });
    const parsed = parseBundle(bundle!);
    const device = (await gpu()).device;
    const cls = adapterClass(device.adapterInfo);
    const batch = 2;
    const inputs = randomInput(source, batch, 13);
    const { graph, weights } = bundleReference(parsed);
    const want = interpret(graph, weights, inputs, batch);
    const model = await Model.create(bundle!, device);
    try {
      expect(model.manifest.kernels).toEqual((cls === "cpu" ? cpuPlan : plan)!.kernels);
      expect(cpuPlan!.kernels).not.toEqual(plan!.kernels);
      const got = await model.run(inputs, { batch });
      expectClose(graph, want, got, "any");
    } finally {
      model.dispose();
    }
  });
});
