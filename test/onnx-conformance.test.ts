// ONNX's backend tests (node, pytorch-converted, pytorch-operator) on the CPU reference. Every
// in-scope test must pass or be refused clearly: none wrong, none crashing; every test of the
// committed pass list (test/conformance/onnx-pass.txt) must still pass. `npm run conformance`
// runs the same over every test, in scope or not, prints the tables, and with
// CNNC_CONFORMANCE_WRITE=1 rewrites the pass list. The GPU side: test/gpu/conformance.test.ts.
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  inScope,
  listCases,
  modelOf,
  passListFile,
  runCpu,
  suites,
  tally,
  type Case,
  type Outcome,
} from "./conformance/suite.js";

const full = process.env.CNNC_CONFORMANCE === "full";
const key = (c: Case) => `${c.suite}/${c.name}`;

describe("ONNX's backend tests on the CPU reference", () => {
  const cases = listCases();
  const scoped = cases.filter((c) => full || inScope(modelOf(c)));
  const outcomes = new Map<string, Outcome>();
  for (const c of scoped) outcomes.set(key(c), runCpu(c));

  it("gives no wrong answer and no crash on an in-scope test", () => {
    const bad = [...outcomes]
      .filter(
        ([k, o]) =>
          (o.verdict === "wrong" || o.verdict === "crash") &&
          (!full || inScope(modelOf(cases.find((c) => key(c) === k)!))),
      )
      .map(([k, o]) => `${k}: ${o.verdict}: ${o.detail}`);
    expect(bad).toEqual([]);
  });

  it("still passes every test of the committed pass list", () => {
    const listed = readFileSync(passListFile, "utf8").split("\n").filter(Boolean);
    const lost = listed.filter((k) => outcomes.get(k)?.verdict !== "pass");
    expect(lost).toEqual([]);
  });

  // (registered in the full run only: `npm run conformance`)
  if (full)
    it("prints the tables", () => {
      const rows = suites.map((suite) => {
        const own = cases.filter((c) => c.suite === suite);
        const inside = own.filter((c) => inScope(modelOf(c)));
        const t = tally(inside.map((c) => outcomes.get(key(c))!));
        const all = tally(own.map((c) => outcomes.get(key(c))!));
        return `| ${suite} | ${own.length} | ${t.inScope} | ${t.pass} | ${t.wrong} | ${t.refused} | ${t.crash} | ${all.pass} | ${all.wrong} | ${all.crash} |`;
      });
      console.log(
        [
          "| suite | tests | in scope | pass | wrong | clear refusal | crash | pass (all) | wrong (all) | crash (all) |",
          "|---|---|---|---|---|---|---|---|---|---|",
          ...rows,
        ].join("\n"),
      );
      const refusals = new Map<string, string[]>();
      for (const c of cases.filter((c) => inScope(modelOf(c)))) {
        const o = outcomes.get(key(c))!;
        if (o.verdict === "refused") refusals.set(key(c), [o.detail]);
      }
      console.log([...refusals].map(([k, [d]]) => `${k}: ${d}`).join("\n"));
      if (process.env.CNNC_CONFORMANCE_WRITE === "1") {
        const passing = [...outcomes].filter(([, o]) => o.verdict === "pass").map(([k]) => k);
        writeFileSync(passListFile, passing.sort().join("\n") + "\n");
      }
    });
});
