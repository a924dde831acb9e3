// `cnnc tune`: every tile configuration it may pick computes the same convolutions and dense
// layers (awkward shapes: channels and pixels that fill no tile, strides, padding, residuals),
// and a tuned bundle records its choices and agrees with the reference.
import { describe, expect, it } from "vitest";
import { tileCandidates, tilesName } from "../../compiler/codegen/index.js";
import { interpret } from "../../compiler/interp/index.js";
import { pipelines, runPasses } from "../../compiler/passes/index.js";
import { initWeights } from "../../compiler/weights/index.js";
import { Model, parseBundle } from "../../runtime/index.js";
import { tunedBundle, tuneGraph } from "../../cli/tune.js";
import { lowerFile } from "../support/compile.js";
import { expectParity, gpu, randomInput } from "./support.js";

const gemmNet = `network G {
  input x: [13, 11, 9]
  let a = conv(37, 3, stride=2, pad=[0, 1, 2, 1])
  conv(37, 1) -> relu
  add(a, last) -> relu
  conv(8, [3, 5], pad=same, dilation=2)
  flatten
  dense(67) -> relu
  dense(5)
  output last
}`;

describe("GEMM tile configurations", () => {
  for (const tiles of tileCandidates) {
    it(`${tilesName(tiles)} agrees with the reference, batch 3`, async () => {
      await expectParity(gemmNet, { passes: pipelines.O2, batch: 3, tiles });
    });
  }
});

describe("tuneGraph", () => {
  it("picks a configuration per distinct layer; the tuned bundle records them and agrees", async () => {
    const graph = lowerFile("examples/lenet5.cnn");
    const weights = initWeights(graph, 2);
    const optimized = runPasses({ ...graph, constants: weights }, pipelines.O2);
    const { device } = await gpu();
    const candidates = tileCandidates.slice(0, 3);
    const { tiles, report } = await tuneGraph(
      { ...optimized, constants: optimized.constants! },
      device,
      { runs: 1, candidates },
    );
    expect(report.map((r) => r.layers.join(","))).toEqual(["c1", "c3", "c5", "f6", "output_layer"]);
    for (const r of report) expect(candidates).toContain(r.best);
    const bytes = tunedBundle({ ...optimized, constants: optimized.constants! }, tiles, "test");
    const { manifest } = parseBundle(bytes);
    expect(manifest.tuning?.adapter).toBe("test");
    expect(Object.keys(manifest.tuning!.layers).sort()).toEqual(
      ["c1", "c3", "c5", "f6", "output_layer"].sort(),
    );
    const model = await Model.create(bytes, device);
    const inputs = randomInput(graph, 2, 4);
    const got = (await model.run(inputs, { batch: 2 })).softmax_1!;
    model.dispose();
    const want = interpret(graph, weights, inputs, 2).get("softmax_1")!;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
  });
});
