// cnnc on a WebGPU adapter against ONNX Runtime on the CPU: the example networks as users build
// them (-O2: folded, fused, memory planned) against the exported network as written.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { exportOnnx } from "../../compiler/onnx/index.js";
import { initWeights } from "../../compiler/weights/index.js";
import { Model } from "../../runtime/index.js";
import { lowerText } from "../support/compile.js";
import { runOnnx } from "../support/onnx.js";
import { gpu, randomInput } from "./support.js";
import { compileGraph } from "../../compiler/compile.js";

const examples = ["lenet5.cnn", "sepnet.cnn", "tiny.cnn", "resnet18.cnn", "mobilenet_v1.cnn"];

describe("cnnc (WebGPU, -O2) agrees with ONNX Runtime", () => {
  for (const file of examples) {
    it(file, async () => {
      const text = readFileSync(`examples/${file}`, "utf8").replace(
        "input x: [3, 224, 224]",
        "input x: [3, 64, 64]",
      );
      const lowered = lowerText(text);
      const graph = { ...lowered, constants: initWeights(lowered, 6) };
      const batch = 2;
      const inputs = randomInput(graph, batch, 8);
      const want = await runOnnx(exportOnnx(graph), graph, inputs, batch);
      const model = await Model.create(compileGraph(graph).bundle!, (await gpu()).device);
      const got = await model.run(inputs, { batch });
      model.dispose();
      for (const o of graph.outputs) {
        const ref = want[o.name]!;
        const out = got[o.name]!.data;
        const scale = Math.max(1, ...Array.from(ref, Math.abs));
        let err = 0;
        for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(out[i]! - ref[i]!));
        expect(
          err <= 1e-4 || err / scale <= 1e-3,
          `${o.name}: max error ${err} (magnitude ${scale})`,
        ).toBe(true);
      }
    });
  }
});
