// The training bundle (`cnnc build --train`, runtime/train-format.ts): what the writer writes
// the reader reads back, bit for bit; every kind of corruption a named BundleError, before
// anything reaches a GPU; each kind of bundle refused by the other's reader.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { writeBundle, writeTrainingBundle } from "../compiler/bundle/write.js";
import { planGraph } from "../compiler/codegen/index.js";
import { trainingGraph } from "../compiler/train/graph.js";
import { trainingInit } from "../compiler/train/init.js";
import { trainingPlan } from "../compiler/train/plan.js";
import { initWeights } from "../compiler/weights/index.js";
import { BundleError, parseBundle, parseTrainingBundle } from "../runtime/index.js";
import { readContainer } from "../runtime/format.js";
import { validateTrainingManifest, type TrainingManifest } from "../runtime/train-format.js";
import { lowerText } from "./support/compile.js";

// batch norm (running statistics: weights that are not trained), a padding whose gradient
// kernel reads constant tables, a dense classifier
const graph = lowerText(`network P {
  input x: [2, 6, 6]
  conv(4, 3, pad=1, bias=false) -> bn -> relu
  pad(1, mode=reflect) -> maxpool(2)
  flatten -> dense(3)
}`);
const tg = trainingGraph(graph);
const config = { kind: "sgd", lr: 0.05, momentum: 0.8 } as const;
const plan = trainingPlan(tg, { optimizer: config, target: "cpu" });
const weights = trainingInit(tg.graph, 2);
const bytes = writeTrainingBundle(plan, weights, config);

function checkOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (e) {
    if (e instanceof BundleError) return e.check;
    throw e;
  }
}

describe("training bundle round trip", () => {
  it("reads back the plan, the optimiser, the weights and the constants bit for bit", () => {
    const back = parseTrainingBundle(bytes);
    expect(back.optimizer).toEqual(config);
    expect(back.plan).toEqual(plan);
    const consts = plan.buffers.filter((b) => b.role === "const");
    expect(consts.length).toBeGreaterThan(0);
    expect([...back.weights.keys()].sort()).toEqual([...weights.keys()].sort());
    for (const [name, w] of weights) expect(back.weights.get(name)).toEqual(w);
    // from a Node Buffer too (its `slice` is a view into a pool, not a copy)
    const pooled = Buffer.concat([Buffer.from("padding"), Buffer.from(bytes)]).subarray(7);
    const again = parseTrainingBundle(pooled);
    for (const [name, w] of weights) expect(again.weights.get(name)).toEqual(w);
  });

  it("each reader refuses the other kind of bundle by name", () => {
    expect(checkOf(() => parseBundle(bytes))).toBe("bundle-kind");
    const inference = writeBundle(planGraph(graph), initWeights(graph, 1));
    expect(checkOf(() => parseTrainingBundle(inference))).toBe("bundle-kind");
    expect(() => parseBundle(bytes)).toThrow(/training bundle \(cnnc build --train\)/);
  });
});

describe("corrupt training bundles", () => {
  const raw = readContainer(bytes).raw as TrainingManifest;
  const blobBytes = raw.blobBytes;
  const check = (m: unknown) => checkOf(() => validateTrainingManifest(m, blobBytes));
  const edit = (f: (m: TrainingManifest & Record<string, unknown>) => void) => {
    const m = structuredClone(raw) as TrainingManifest & Record<string, unknown>;
    f(m);
    return check(m);
  };
  type Mutable<T> = { -readonly [K in keyof T]: T[K] };
  const b = (m: TrainingManifest, role: string) =>
    m.buffers.find((x) => x.role === role) as Mutable<TrainingManifest["buffers"][number]>;

  it("names the rule a manifest breaks", () => {
    expect(check(raw)).toBe(undefined);
    expect(edit((m) => ((m as { kind: string }).kind = "inference"))).toBe("bundle-kind");
    // a dispatch naming a buffer the bundle lacks, or binding fewer than its kernel declares
    expect(edit((m) => ((m.backward[0]!.bindings as unknown[])[0] = { weight: "nothing" }))).toBe(
      "unknown-reference",
    );
    expect(edit((m) => (m.update[0]!.bindings as unknown[]).pop())).toBe("binding-count");
    expect(edit((m) => ((m.forward[0] as { kernel: number }).kernel = 999))).toBe(
      "unknown-reference",
    );
    // weights and constants come from the blob; nothing else may claim to
    expect(edit((m) => delete b(m, "weight").data)).toBe("weight-range");
    expect(edit((m) => (b(m, "slot").data = { offset: 0, bytes: 4, crc32: 0 }))).toBe(
      "weight-range",
    );
    expect(edit((m) => (b(m, "const").size += 1))).toBe("weight-size");
    expect(
      edit((m) => {
        const [w0, w1] = m.buffers.filter((x) => x.data) as Mutable<
          TrainingManifest["buffers"][number]
        >[];
        w1!.data = { ...w1!.data!, offset: w0!.data!.offset };
      }),
    ).toBe("weight-overlap");
    // values inside the arena, aligned; a view where its root is
    type V = { offset: number; alias?: string };
    expect(edit((m) => ((m.values[1] as V).offset += 1))).toBe("value-range");
    expect(edit((m) => ((m.values.at(-1) as V).offset = m.arena))).toBe("value-range");
    expect(
      edit((m) => {
        const view = m.values.find((v) => v.alias) as V;
        view.offset = view.offset === 0 ? 64 : 0;
      }),
    ).toBe("value-range");
    // a trained tensor's range of its pack: inside it, aligned, apart from the others, in a pack
    type W = { within?: { buffer: string; offset: number }; size: number; role: string };
    const packed = (m: TrainingManifest) =>
      m.buffers.filter((x) => x.within && x.role === "grad") as W[];
    expect(edit((m) => (packed(m)[1]!.within!.offset = packed(m)[0]!.within!.offset))).toBe(
      "value-range",
    );
    expect(edit((m) => (packed(m)[0]!.within!.offset += 4))).toBe("value-range");
    expect(edit((m) => (packed(m)[0]!.within!.offset = 1 << 20))).toBe("value-range");
    expect(edit((m) => (packed(m)[0]!.within!.buffer = m.hyper))).toBe("unknown-reference");
    // an optimiser whose slots the plan does not have, a gradient of another size
    expect(edit((m) => ((m.optimizer as { kind: string }).kind = "adam"))).toBe("manifest-schema");
    expect(edit((m) => ((m.optimizer as { lr: unknown }).lr = "fast"))).toBe("manifest-schema");
    expect(edit((m) => (b(m, "grad").size += 1))).toBe("weight-size");
    // the labels, logits and input are values of the sizes the trainer writes and reads
    expect(edit((m) => ((m as { classes: number }).classes = 4))).toBe("shape-mismatch");
    expect(edit((m) => ((m.input as unknown as { shape: number[] }).shape = [2, 6, 7]))).toBe(
      "shape-mismatch",
    );
    expect(edit((m) => ((m as { labels: string }).labels = "nothing"))).toBe("unknown-reference");
    expect(edit((m) => ((m as { hyper: string }).hyper = m.sums))).toBe("unknown-reference");
  });

  it("any truncation or flipped byte is a BundleError, or changes nothing", () => {
    const original = parseTrainingBundle(bytes);
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), (n) => {
        expect(checkOf(() => parseTrainingBundle(bytes.subarray(0, n)))).toBeDefined();
      }),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(
        fc.nat({ max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (at, mask) => {
          const bad = bytes.slice();
          bad[at] = bad[at]! ^ mask;
          if (checkOf(() => parseTrainingBundle(bad)) === undefined)
            expect(parseTrainingBundle(bad)).toEqual(original);
        },
      ),
      { numRuns: 150 },
    );
  });
});
