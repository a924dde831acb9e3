// The memory plan never puts two live values in the same bytes, on any example, at -O0 and -O2;
// and planning pays: the arena is smaller than one region per value.
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { activationMemory } from "../compiler/analysis/index.js";
import { checkMemoryPlan, planGraph } from "../compiler/codegen/index.js";
import { runPasses } from "../compiler/passes/index.js";
import { levels } from "../compiler/compile.js";
import { lowerFile, lowerText } from "./support/compile.js";

describe("memory plans", () => {
  for (const file of readdirSync("examples").filter((f) => f.endsWith(".cnn"))) {
    it(`${file}: no overlap of live values; reuse shrinks the arena`, () => {
      const graph = lowerFile(`examples/${file}`);
      for (const g of [graph, runPasses(graph, levels[2].passes)]) {
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

  it("elementwise ops work in place where they are their operand's only reader", () => {
    const graph = lowerText(`network P {
  input x: [4, 16, 16]
  conv(8, 3, pad=1) -> bn -> relu
  let a = conv(8, 3, pad=1)
  let b = a -> relu
  add(a, b) -> sigmoid
  output last
}`);
    const plan = planGraph(graph, { planMemory: true });
    const alias = new Map(plan.values.map((v) => [v.name, v.alias]));
    // bn and relu run in the first conv's buffer; relu(a) cannot (a is read again by the add);
    // the add takes b's buffer, and the sigmoid the add's.
    expect(alias.get("bn_1")).toBe("conv_1");
    expect(alias.get("relu_1")).toBe("bn_1");
    expect(alias.get("relu_2")).toBeUndefined();
    expect(alias.get("add_1")).toBe("relu_2");
    expect(alias.get("sigmoid_1")).toBe("add_1");
    const kernelOf = (label: string) =>
      plan.kernels[plan.dispatches.find((d) => d.label === label)!.kernel]!;
    expect(kernelOf("relu_1").match(/var<storage/g)).toHaveLength(1); // y only
    expect(kernelOf("relu_2").match(/var<storage/g)).toHaveLength(2);
    const problems = checkMemoryPlan(
      plan.values,
      plan.dispatches,
      plan.inputs.map((i) => i.name),
      plan.outputs.map((o) => o.value),
      plan.arena,
    );
    expect(problems).toEqual([]);
    expect(plan.arena).toBeLessThan(planGraph(graph, { planMemory: false }).arena);
  });
});
