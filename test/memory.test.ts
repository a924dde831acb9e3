// The memory plan never puts two live values in the same bytes, on any example, at -O0 and -O2;
// and planning pays: the arena is smaller than one region per value.
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { activationMemory } from "../compiler/analysis/index.js";
import { checkMemoryPlan, planGraph } from "../compiler/codegen/index.js";
import { pipelines, runPasses } from "../compiler/passes/index.js";
import { lowerFile } from "./support/compile.js";

describe("memory plans", () => {
  for (const file of readdirSync("examples").filter((f) => f.endsWith(".cnn"))) {
    it(`${file}: no overlap of live values; reuse shrinks the arena`, () => {
      const graph = lowerFile(`examples/${file}`);
      for (const g of [graph, runPasses(graph, pipelines.O2)]) {
        for (const reuse of [false, true]) {
          const plan = planGraph(g, { planMemory: reuse, eliminateConcat: reuse });
          const problems = checkMemoryPlan(
            plan.values,
            plan.dispatches,
            plan.inputs.map((i) => i.name),
            plan.outputs.map((o) => o.value),
            plan.arena,
          );
          expect(problems).toEqual([]);
        }
        const naive = planGraph(g, { planMemory: false }).arena * 4;
        const planned = planGraph(g, { planMemory: true }).arena * 4;
        // Never below the live peak (a lower bound), and below the naive layout.
        expect(planned).toBeGreaterThanOrEqual(activationMemory(g).peakLiveBytes);
        expect(planned).toBeLessThan(naive);
      }
    });
  }

  it("detects an overlap when one is made", () => {
    const plan = planGraph(lowerFile("examples/lenet5.cnn"), { planMemory: true });
    const values = plan.values.map((v) => ({ ...v, offset: 0 }));
    const problems = checkMemoryPlan(
      values,
      plan.dispatches,
      ["x"],
      plan.outputs.map((o) => o.value),
      plan.arena,
    );
    expect(problems.length).toBeGreaterThan(0);
  });
});
