// ONNX's backend tests on this project's WebGPU adapter: every test of the committed pass list
// (test/conformance/onnx-pass.txt, which the CPU side keeps honest) must pass here too, with
// ONNX's expected outputs as the oracle. SwiftShader compiles pipelines ~10x slower than
// llvmpipe: there the first test of each distinct set of op types runs (every kernel kind the
// list reaches, a third of the tests); llvmpipe and a real GPU run them all.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { listCases, modelOf, opTypes, passListFile, runGpu } from "../conformance/suite.js";
import { adapterChoice, gpu } from "./support.js";

describe("ONNX's backend tests on the GPU", () => {
  const listed = new Set(readFileSync(passListFile, "utf8").split("\n").filter(Boolean));
  const all = listCases().filter((c) => listed.has(`${c.suite}/${c.name}`));
  const seen = new Set<string>();
  const cases =
    adapterChoice === "swiftshader"
      ? all.filter((c) => {
          const ops = opTypes(modelOf(c)).join(" ");
          return seen.has(ops) ? false : (seen.add(ops), true);
        })
      : all;

  it(`passes ${cases.length} of the ${listed.size} tests the CPU reference passes`, async () => {
    expect(all.length).toBe(listed.size);
    const { device } = await gpu();
    const failed: string[] = [];
    for (const c of cases) {
      const o = await runGpu(c, device);
      if (o.verdict !== "pass") failed.push(`${c.suite}/${c.name}: ${o.verdict}: ${o.detail}`);
    }
    expect(failed).toEqual([]);
  });
});
