// The passes preserve every example network's function: -O0 and -O2 agree on the reference
// interpreter (inputs shrunk so that the float64 interpreter stays quick; the layers are the
// same). And they pay: fewer dispatches, same MACs, less activation memory.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { activationMemory, summarize } from "../compiler/analysis/index.js";
import { defaultTiles, planGraph, winogradApplies } from "../compiler/codegen/index.js";
import type { Graph } from "../compiler/ir/index.js";
import { interpret } from "../compiler/interp/index.js";
import { runPasses } from "../compiler/passes/index.js";
import { levels } from "../compiler/compile.js";
import { initWeights, random } from "../compiler/weights/index.js";
import { lowerText } from "./support/compile.js";

const small = (text: string): string =>
  text.replace("input x: [3, 224, 224]", "input x: [3, 64, 64]");

describe("-O2 computes what -O0 computes", () => {
  for (const file of readdirSync("examples").filter((f) => f.endsWith(".cnn"))) {
    it(file, { timeout: 120_000 }, () => {
      const graph = lowerText(small(readFileSync(`examples/${file}`, "utf8")));
      const weights = initWeights(graph, 4);
      const optimized = runPasses({ ...graph, constants: weights }, levels[2].passes, {
        verifyEach: true,
      });
      const rand = random(5);
      const inputs = Object.fromEntries(
        graph.inputs.map((i) => [
          i.name,
          Float32Array.from(
            { length: 2 * i.shape.reduce((a, b) => a * b, 1) },
            () => rand() * 2 - 1,
          ),
        ]),
      );
      const want = interpret(graph, weights, inputs, 2);
      const got = interpret(optimized, optimized.constants!, inputs, 2);
      for (const [name, ref] of want) {
        const out = got.get(name)!;
        const scale = Math.max(1, ...Array.from(ref, Math.abs));
        let err = 0;
        for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(out[i]! - ref[i]!));
        expect(err / scale, name).toBeLessThan(1e-5);
      }
      expect(summarize(optimized).totals.macs).toBe(summarize(graph).totals.macs);
      expect(planGraph(optimized).dispatches.length).toBeLessThanOrEqual(
        planGraph(graph).dispatches.length,
      );
    });
  }
});

describe("-O2 pays for itself", () => {
  it.each([
    ["resnet18.cnn", 68, 23],
    ["mobilenet_v1.cnn", 83, 29],
    ["googlenet.cnn", 222, 108],
  ])("%s: %i dispatches become %i", (file, before, after) => {
    const graph = lowerText(readFileSync(`examples/${file}`, "utf8"));
    const optimized = runPasses(graph, levels[2].passes);
    // one dispatch per conv (Winograd's three would blur what the passes save)
    const oneKernel = (g: Graph) => ({
      choices: new Map(
        g.nodes
          .filter(winogradApplies)
          .map((n) => [n.name, { kernel: "gemm", tiles: defaultTiles } as const]),
      ),
    });
    expect(planGraph(graph, oneKernel(graph)).dispatches.length).toBe(before);
    expect(planGraph(optimized, oneKernel(optimized)).dispatches.length).toBe(after);
    expect(activationMemory(optimized).naiveBytes).toBeLessThan(
      activationMemory(graph).naiveBytes / 2,
    );
  });
});

describe("concat elimination", () => {
  it("GoogLeNet: every inception branch writes into its concat; no copy kernel is left", () => {
    const graph = runPasses(
      lowerText(readFileSync("examples/googlenet.cnn", "utf8")),
      levels[2].passes,
    );
    const copies = planGraph(graph).dispatches.length;
    const plan = planGraph(graph, { eliminateConcat: true, planMemory: true });
    expect(copies - plan.dispatches.length).toBe(9 * 4);
    expect(plan.kernels.some((k) => k.includes("y[n * OUT + OFF + i % PER]"))).toBe(false);
  });
});
