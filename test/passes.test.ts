// Pass tests, IR text in and IR text out: each file in test/passes names its pipeline on a
// `// RUN:` line; its cases are split by `// -----`, each checked with FileCheck directives.
// Every case also runs on the reference interpreter before and after, with generated weights:
// a pass must never change what the network computes.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { interpret } from "../compiler/interp/index.js";
import { parseIr, printIr, verify, type Graph } from "../compiler/ir/index.js";
import { passesByName, runPasses, type Pass } from "../compiler/passes/index.js";
import { initWeights, random } from "../compiler/weights/index.js";
import { fileCheck } from "./support/filecheck.js";

function sameFunction(before: Graph, passes: readonly Pass[]): void {
  const weights = initWeights(before, 3);
  const folded = runPasses({ ...before, constants: weights }, passes);
  const rand = random(11);
  const inputs = Object.fromEntries(
    before.inputs.map((i) => [
      i.name,
      Float32Array.from({ length: 2 * i.shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1),
    ]),
  );
  const want = interpret(before, weights, inputs, 2);
  const got = interpret(folded, folded.constants!, inputs, 2);
  for (const [name, ref] of want) {
    const out = got.get(name)!;
    const scale = Math.max(1, ...Array.from(ref, Math.abs));
    for (let i = 0; i < ref.length; i++)
      expect(Math.abs(out[i]! - ref[i]!) / scale).toBeLessThan(1e-6); // folded weights are rounded to f32
  }
}

for (const file of readdirSync("test/passes").filter((f) => f.endsWith(".ir"))) {
  const text = readFileSync(`test/passes/${file}`, "utf8");
  const run = /^\/\/ RUN: (.*)$/m
    .exec(text)?.[1]
    ?.split(",")
    .map((s) => s.trim());
  describe(`${file} (${run?.join(", ")})`, () => {
    it("names its passes", () => expect(run?.length).toBeGreaterThan(0));
    text
      .split(/^\/\/ -----$/m)
      .map((c) => c.trim())
      .forEach((source, i) => {
        const title = /^\/\/ CASE: (.*)$/m.exec(source)?.[1] ?? `case ${i + 1}`;
        it(title, () => {
          const passes = passesByName(run!);
          const before = verify(parseIr(source));
          const after = runPasses(before, passes, { verifyEach: true });
          const problems = fileCheck(printIr(after), source);
          expect(problems, printIr(after)).toEqual([]);
          sameFunction(before, passes);
        });
      });
  });
}
