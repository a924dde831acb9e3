// The cost model (compiler/codegen/cost-model.ts): nearest measured layers, their candidates'
// time ratios, and what it makes of the measurements the repository keeps.
import { describe, expect, it } from "vitest";
import {
  distance,
  predict,
  rankByModel,
  type LayerFeatures,
  type LayerRecord,
} from "../compiler/codegen/cost-model.js";
import llvmpipe from "../compiler/codegen/tuning/llvmpipe.json" with { type: "json" };

const conv = (c: number, f: number, hw: number, k = 3, s = 1): LayerFeatures => ({
  kind: "conv",
  ...{ c, h: hw * s, w: hw * s, f, ho: hw, wo: hw },
  ...{ k: [k, k], s: [s, s], d: [1, 1], batch: 1 },
});
const measured = (f: LayerFeatures, ms: Record<string, number>): LayerRecord => ({
  ...f,
  network: "test",
  ms,
});

describe("the cost model", () => {
  it("measures nearness in log channels and map size, a different window, never across kinds", () => {
    expect(distance(conv(64, 64, 56), conv(64, 64, 56))).toBe(0);
    expect(distance(conv(64, 64, 56), conv(128, 64, 56))).toBeCloseTo(Math.log(2));
    expect(distance(conv(64, 64, 56), conv(64, 64, 28))).toBeCloseTo(Math.log(4));
    expect(distance(conv(64, 64, 56), conv(64, 64, 56, 1))).toBeCloseTo(Math.log(8));
    expect(distance(conv(64, 64, 56), { ...conv(64, 64, 56), kind: "depthwise" })).toBe(Infinity);
  });
  it("predicts from the nearest layers, the nearest weighing most", () => {
    const layers = [
      measured(conv(64, 64, 56), { a: 10, b: 20 }),
      measured(conv(512, 512, 7), { a: 30, b: 10 }),
      measured(conv(256, 256, 14), { a: 20, b: 10, c: 5 }),
      measured(conv(8, 8, 224, 1), { a: 1, b: 100 }),
    ];
    const near56 = predict(conv(64, 64, 56), layers);
    expect(near56.get("a")! < near56.get("b")!).toBe(true);
    const near7 = predict(conv(512, 512, 7), layers);
    expect(near7.get("b")! < near7.get("a")!).toBe(true);
    // c, measured at one layer only, is compared where it was measured
    expect(near7.get("c")!).toBeLessThan(near7.get("b")!);
  });
  it("ranks unmeasured candidates last, in their order; nothing without data", () => {
    expect(rankByModel("gpu", conv(64, 64, 56), ["x", "y"])).toBeUndefined();
    expect(rankByModel("cpu", undefined, ["x", "y"])).toBeUndefined();
    expect(rankByModel("cpu", conv(64, 64, 56), ["x", "y"])).toBeUndefined();
  });
  // How much slower than each recorded layer's fastest candidate the best of the model's first
  // `top` picks is (geometric mean over the layers), predicting each layer from `known`'s
  // records. On the data of this commit: 1.08 in-sample; with each network left out in turn,
  // 1.39 for the first pick alone, 1.06 for the best of the first three (what cnnc tune
  // measures at least), 1.04 of four.
  const layers = (llvmpipe as unknown as { layers: LayerRecord[] }).layers;
  const slowdown = (known: (r: LayerRecord) => readonly LayerRecord[], top = 1): number => {
    const slower = layers.map((r) => {
      const predicted = predict(r, known(r), Object.keys(r.ms));
      const order = Object.keys(r.ms).sort(
        (a, b) => (predicted.get(a) ?? Infinity) - (predicted.get(b) ?? Infinity),
      );
      const best = Math.min(...order.slice(0, top).map((n) => r.ms[n]!));
      return best / Math.min(...Object.values(r.ms));
    });
    return Math.exp(slower.reduce((a, x) => a + Math.log(x), 0) / slower.length);
  };
  const otherNetworks = (r: LayerRecord) => layers.filter((l) => l.network !== r.network);
  it("on the repository's llvmpipe measurements, picks within 10% of each layer's fastest", () => {
    expect(new Set(layers.map((l) => l.network)).size).toBeGreaterThanOrEqual(5);
    expect(slowdown(() => layers)).toBeLessThan(1.1);
  });
  it("for a network it has not measured, ranks a kernel within 10% of the fastest in its first three", () => {
    expect(slowdown(otherNetworks, 3)).toBeLessThan(1.1);
    expect(slowdown(otherNetworks, 1)).toBeLessThan(1.5);
  });
});
