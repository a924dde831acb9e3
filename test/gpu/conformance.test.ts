// ONNX's backend tests on this project's WebGPU adapter: every test of the committed pass list
// (test/conformance/onnx-pass.txt, which the CPU side keeps honest) must pass here too, with
// ONNX's expected outputs as the oracle.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { listCases, passListFile, runGpu } from "../conformance/suite.js";
import { gpu } from "./support.js";

describe("ONNX's backend tests on the GPU", () => {
  const listed = new Set(readFileSync(passListFile, "utf8").split("\n").filter(Boolean));
  const cases = listCases().filter((c) => listed.has(`${c.suite}/${c.name}`));

  it(`passes the ${listed.size} tests the CPU reference passes`, async () => {
    expect(cases.length).toBe(listed.size);
    const { device } = await gpu();
    const failed: string[] = [];
    for (const c of cases) {
      const o = await runGpu(c, device);
      if (o.verdict !== "pass") failed.push(`${c.suite}/${c.name}: ${o.verdict}: ${o.detail}`);
    }
    expect(failed).toEqual([]);
  });
});
