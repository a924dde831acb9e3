// ONNX Runtime as the oracle nobody on this team wrote: every example network and every op
// case, exported to ONNX, run by onnxruntime-node (CPU), compared with cnnc's reference
// interpreter. Tolerance: 1e-4 absolute, or 1e-3 relative to the output's magnitude.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { interpret } from "../compiler/interp/index.js";
import { ExportError, exportOnnx } from "../compiler/onnx/index.js";
import { initWeights, randomInputs } from "../compiler/weights/index.js";
import { lowerText } from "./support/compile.js";
import { opCases } from "./support/op-cases.js";
import { runOnnx } from "./support/onnx.js";

async function agree(text: string, batch: number, seed: number): Promise<number> {
  const lowered = lowerText(text);
  const graph = { ...lowered, constants: initWeights(lowered, seed) };
  const inputs = randomInputs(graph, batch, seed + 1);
  const got = await runOnnx(exportOnnx(graph), graph, inputs, batch);
  const want = interpret(graph, graph.constants, inputs, batch);
  let worst = 0;
  for (const [name, ref] of want) {
    const out = got[name]!;
    expect(out.length).toBe(ref.length);
    const scale = Math.max(1, ...Array.from(ref, Math.abs));
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(out[i]! - ref[i]!));
    expect(
      err <= 1e-4 || err / scale <= 1e-3,
      `${name}: max error ${err} (magnitude ${scale})`,
    ).toBe(true);
    worst = Math.max(worst, err / scale);
  }
  return worst;
}

const net = (input: string, body: string): string => `network T {\n  input x: ${input}\n${body}\n}`;

describe("examples agree with ONNX Runtime", () => {
  for (const file of readdirSync("examples").filter((f) => f.endsWith(".cnn"))) {
    it(file, { timeout: 120_000 }, async () => {
      // The 224x224 networks at 64x64: the same layers, a quicker reference run.
      const text = readFileSync(`examples/${file}`, "utf8").replace(
        "input x: [3, 224, 224]",
        "input x: [3, 64, 64]",
      );
      await agree(text, 2, 3);
    });
  }
});

describe("every op agrees with ONNX Runtime", () => {
  for (const [name, input, body] of opCases) {
    if (name.startsWith("lrn")) continue; // even sizes have no exact ONNX form: tested below
    it(name, async () => {
      await agree(net(input, body), 3, name.length);
    });
  }
  it("lrn with an odd size", async () => {
    await agree(net("[7, 3, 4]", "lrn(size=3) -> lrn(size=5, alpha=0.01, beta=0.5, k=1)"), 2, 1);
  });
  it("lrn with an even size is refused, not exported wrongly", () => {
    const g = lowerText(net("[7, 3, 4]", "lrn(size=4)"));
    expect(() => exportOnnx({ ...g, constants: initWeights(g, 1) })).toThrow(ExportError);
    expect(() => exportOnnx({ ...g, constants: initWeights(g, 1) })).toThrow(/even size \(4\)/);
  });
});
