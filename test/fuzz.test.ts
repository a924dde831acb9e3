// Property: whatever a user does to a valid file, the front end answers with diagnostics (or
// a verified graph), never a crash, a hang or a diagnostic pointing outside the file.
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { summarize } from "../compiler/analysis/index.js";
import { verify } from "../compiler/ir/index.js";
import { checkAllNetworks, memoryHost } from "../compiler/lower/index.js";
import { formatDiagnostic } from "../grammar/diagnostics.js";

const examples = readdirSync("examples")
  .filter((f) => f.endsWith(".cnn"))
  .map((f) => readFileSync(`examples/${f}`, "utf8"));

const fragments = [
  "(",
  ")",
  "{",
  "}",
  "[",
  "]",
  "->",
  ",",
  "=",
  ":",
  ";",
  "\n",
  "#",
  "//",
  '"',
  '"x.cnn"',
  "0",
  "-1",
  "1",
  "3",
  "7",
  "2.5",
  "1e308",
  "99999999999999999999",
  "2147483648",
  "-0.0",
  "network",
  "block",
  "input",
  "output",
  "let",
  "repeat",
  "branch",
  "concat",
  "add",
  "mul",
  "identity",
  "use",
  "last",
  "same",
  "valid",
  "true",
  "conv",
  "dwconv",
  "sepconv",
  "deconv",
  "maxpool",
  "avgpool",
  "dense",
  "flatten",
  "bn",
  "relu",
  "softmax",
  "upsample",
  "pad",
  "stride=",
  "pad=",
  "groups=",
  "dilation=",
  "ceil=true",
  "x",
  "c",
  "c / 0",
  "int(",
  "$",
];

type Mutation = (text: string) => string;

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.nat({ max: 40 })).map(([at, len]): Mutation => (t) => {
    const i = at % (t.length + 1);
    return t.slice(0, i) + t.slice(i + len);
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...fragments)).map(([at, frag]): Mutation => (t) => {
    const i = at % (t.length + 1);
    return `${t.slice(0, i)} ${frag} ${t.slice(i)}`;
  }),
  fc
    .tuple(fc.nat(), fc.constantFrom("0", "1", "2", "5", "64", "10000", "-3", "9999"))
    .map(([which, value]): Mutation => (t) => {
      const numbers = [...t.matchAll(/\d+/g)];
      const m = numbers[which % Math.max(1, numbers.length)];
      return m ? t.slice(0, m.index) + value + t.slice(m.index! + m[0].length) : t;
    }),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Mutation => (t) => {
    const lines = t.split("\n");
    const i = a % lines.length;
    const j = b % lines.length;
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    return lines.join("\n");
  }),
  fc.nat().map((a): Mutation => (t) => {
    const lines = t.split("\n");
    const i = a % lines.length;
    lines.splice(i, 0, lines[i]!);
    return lines.join("\n");
  }),
);

describe("front end under random edits", () => {
  it("never throws; diagnostics stay inside the file; graphs verify", { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...examples),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (source, edits) => {
          const text = edits.reduce((t, edit) => edit(t), source);
          const lines = text.split(/\r\n|\r|\n/).length;
          const result = checkAllNetworks("m.cnn", memoryHost({ "m.cnn": text }));
          for (const d of result.diagnostics) {
            expect(d.range.file).toBe("m.cnn");
            expect(d.range.start.line).toBeGreaterThanOrEqual(1);
            expect(d.range.start.line).toBeLessThanOrEqual(lines);
            expect(d.message.length).toBeGreaterThan(0);
            formatDiagnostic(d, result.sources);
          }
          for (const g of result.graphs) summarize(verify(g));
        },
      ),
      {
        numRuns: Number(process.env.FC_RUNS ?? 400),
        seed: Number(process.env.FC_SEED ?? 20261122),
      },
    );
  });

  it("stops runaway expansion with an error, not a hang", { timeout: 60_000 }, () => {
    const big = "network N {\n  input x: [1]\n  repeat 10000 { repeat 10000 { relu } }\n}";
    expect(
      checkAllNetworks("m.cnn", memoryHost({ "m.cnn": big })).diagnostics.map((d) => d.message),
    ).toEqual([
      "expanding the network takes more than 1000000 steps; check the repeat counts",
      "the network has more than 100000 layers",
    ]);
    // After an error nothing is emitted, so only the step budget can stop the loops.
    const poisoned =
      "network N {\n  input x: [1]\n  conv(1, 3)\n  repeat 10000 { repeat 10000 { relu } }\n}";
    const messages = checkAllNetworks("m.cnn", memoryHost({ "m.cnn": poisoned })).diagnostics.map(
      (d) => d.message,
    );
    expect(messages).toContain(
      "expanding the network takes more than 1000000 steps; check the repeat counts",
    );
  });
});
