// Dawn's instance must outlive its device (see PEERS.md): loading and running several networks
// in one process, again and again, with forced garbage collections, must neither crash nor hang.
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";

it("survives repeated loads, runs and forced GC", () => {
  const script = `
    import { readFileSync } from "node:fs";
    import { nodeHost } from "./dist/cli/host.js";
    import { compileGraph } from "./dist/compiler/compile.js";
    import { compileFrontend } from "./dist/compiler/lower/index.js";
    import { loadModel } from "./dist/runtime/index.js";
    const bundles = ["examples/lenet5.cnn", "examples/sepnet.cnn", "examples/tiny.cnn"].map(
      (f) => compileGraph(compileFrontend(f, nodeHost).graph, { seed: 1 }).bundle);
    let runs = 0;
    for (let round = 0; round < 3; round++) {
      for (const bytes of bundles) {
        const model = await loadModel(bytes);
        const [input] = model.info.inputs;
        const x = new Float32Array(input.shape.reduce((a, b) => a * b, 1)).fill(0.25);
        await model.run({ [input.name]: x });
        model.dispose();
        runs++;
        globalThis.gc();
      }
      globalThis.gc();
    }
    console.log("runs " + runs);
  `;
  const r = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 240_000,
  });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toContain("runs 9");
});
