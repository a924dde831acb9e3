// Pass tests, IR text in and IR text out: each file in test/passes names its pipeline on a
// `// RUN:` line; its cases are split by `// -----`, each checked with FileCheck directives.
// Every case also runs on the reference interpreter before and after, with generated weights:
// a pass must never change what the network computes.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { interpret } from "../compiler/interp/index.js";
import { parseIr, printIr, verify, type Graph } from "../compiler/ir/index.js";
import { passesByName, runPasses } from "../compiler/passes/index.js";
import { initWeights, random } from "../compiler/weights/index.js";
import { fileCheck } from "./support/filecheck.js";

/** Weights for a case: generated, except those an `// INIT: @name rank=R` line asks to have
 * rank R as the (C_in k_h) x (C_out k_w) matrix of the spatial decomposition pass. */
function caseWeights(graph: Graph, source: string): Map<string, Float32Array> {
  const weights = initWeights(graph, 3);
  const rand = random(5);
  for (const [, name, rankText] of source.matchAll(/^\/\/ INIT: @(\S+) rank=(\d+)$/gm)) {
    const decl = graph.weights.find((w) => w.name === name);
    if (!decl || decl.shape.length !== 4) throw new Error(`INIT: no conv weight @${name}`);
    const [o, c, kh, kw] = decl.shape as [number, number, number, number];
    const rank = Number(rankText);
    const a = Array.from({ length: c * kh * rank }, () => rand() - 0.5);
    const b = Array.from({ length: o * kw * rank }, () => rand() - 0.5);
    const data = new Float32Array(o * c * kh * kw);
    for (let oi = 0; oi < o; oi++)
      for (let ci = 0; ci < c; ci++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++)
            for (let r = 0; r < rank; r++)
              data[((oi * c + ci) * kh + i) * kw + j]! +=
                a[(ci * kh + i) * rank + r]! * b[(oi * kw + j) * rank + r]!;
    weights.set(name!, data);
  }
  return weights;
}

function sameFunction(before: Graph, weights: Map<string, Float32Array>, after: Graph): void {
  const rand = random(11);
  const inputs = Object.fromEntries(
    before.inputs.map((i) => [
      i.name,
      Float32Array.from({ length: 2 * i.shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1),
    ]),
  );
  const want = interpret(before, weights, inputs, 2);
  const got = interpret(after, after.constants!, inputs, 2);
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
          const weights = caseWeights(before, source);
          const after = runPasses({ ...before, constants: weights }, passes, { verifyEach: true });
          const problems = fileCheck(printIr(after), source);
          expect(problems, printIr(after)).toEqual([]);
          sameFunction(before, weights, after);
        });
      });
  });
}
