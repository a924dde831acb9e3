// The generated WGSL of a few examples, kept as files: a refactor that claims no change in
// behaviour must show no diff here (update on purpose with `npx vitest run -u`).
import { describe, expect, it } from "vitest";
import { planGraph } from "../compiler/codegen/index.js";
import { runPasses } from "../compiler/passes/index.js";
import { levels } from "../compiler/compile.js";
import { lowerFile } from "./support/compile.js";

describe("generated WGSL", () => {
  for (const net of ["lenet5", "sepnet", "tiny"]) {
    for (const level of [0, 2] as const) {
      it(`${net} at -O${level}`, async () => {
        const graph = runPasses(lowerFile(`examples/${net}.cnn`), levels[level].passes);
        const plan = planGraph(graph, {
          planMemory: levels[level].planMemory,
          eliminateConcat: levels[level].eliminateConcat,
        });
        const text = plan.kernels
          .map((k, i) => {
            const users = plan.dispatches.filter((d) => d.kernel === i).map((d) => d.label);
            return `// ---- kernel ${i}: ${users.join(", ")}\n${k}`;
          })
          .join("\n");
        await expect(text).toMatchFileSnapshot(`snapshots/${net}.O${level}.wgsl`);
      });
    }
  }
});
