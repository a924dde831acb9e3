// LANGUAGE.md (the team's contract, in ../shared beside the repository) says every example in
// it must parse, infer shapes and compile. Its code blocks are read from the file itself, so
// the test follows the contract as it changes.
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkAllNetworks, memoryHost } from "../compiler/lower/index.js";
import { formatDiagnostic } from "../grammar/diagnostics.js";

const contract = "../shared/LANGUAGE.md";

describe.runIf(existsSync(contract) || process.env.CI)("the LANGUAGE.md contract", () => {
  const blocks = [...readFileSync(contract, "utf8").matchAll(/```\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((code) => /^network /m.test(code));

  it("has examples", () => expect(blocks.length).toBeGreaterThanOrEqual(2));

  blocks.forEach((code, i) => {
    const name = /^network (\w+)/m.exec(code)![1];
    it(`example ${i + 1} (${name}) compiles without a diagnostic`, () => {
      const r = checkAllNetworks("contract.cnn", memoryHost({ "contract.cnn": code }));
      expect(r.diagnostics.map((d) => formatDiagnostic(d, r.sources))).toEqual([]);
      expect(r.graphs).toHaveLength(1);
    });
  });
});
