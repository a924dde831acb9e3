// Example networks end to end on the GPU, against the reference: the small ones as written,
// ResNet-18 and GoogLeNet reduced to 64x64 inputs (the same layers, fewer pixels).
import { readFileSync } from "node:fs";
import { describe, it } from "vitest";
import { lowerFile, lowerText } from "../support/compile.js";
import { pipelines } from "../../compiler/passes/index.js";
import { expectParity } from "./support.js";

function at64(file: string): string {
  return readFileSync(file, "utf8").replace("input x: [3, 224, 224]", "input x: [3, 64, 64]");
}

describe("example networks on the GPU", () => {
  it("LeNet-5, batch 3", async () => {
    await expectParity(lowerFile("examples/lenet5.cnn"), { batch: 3 });
  });
  it("SepNet, batch 2", async () => {
    await expectParity(lowerFile("examples/sepnet.cnn"), { batch: 2 });
  });
  it("Tiny (the language example: blocks, concat, add, two outputs)", async () => {
    await expectParity(lowerFile("examples/tiny.cnn"));
  });
  it("ResNet-18 at 64x64", async () => {
    await expectParity(lowerText(at64("examples/resnet18.cnn")));
  });
  it("GoogLeNet at 64x64", async () => {
    await expectParity(lowerText(at64("examples/googlenet.cnn")));
  });
  // -O2: batch norm folded, residual adds and activations fused into the conv epilogues.
  it("ResNet-18 at 64x64, -O2, batch 2", async () => {
    await expectParity(lowerText(at64("examples/resnet18.cnn")), {
      passes: pipelines.O2,
      batch: 2,
    });
  });
  it("GoogLeNet at 64x64, -O2 (concat inputs written in place)", async () => {
    await expectParity(lowerText(at64("examples/googlenet.cnn")), { passes: pipelines.O2 });
  });
  it("MobileNet-v1 at 64x64, -O2", async () => {
    await expectParity(lowerText(at64("examples/mobilenet_v1.cnn")), { passes: pipelines.O2 });
  });
  it("SepNet, -O2 (separable convs lowered, dropout removed)", async () => {
    await expectParity(lowerFile("examples/sepnet.cnn"), { passes: pipelines.O2, batch: 3 });
  });
});
