// Every bad-input fixture gives exactly the diagnostics annotated in it, each at its line.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nodeHost } from "../cli/host.js";
import { checkAllNetworks } from "../compiler/lower/index.js";
import { formatDiagnostic } from "../grammar/diagnostics.js";
import { readExpectations } from "./support/expectations.js";

const dir = "test/fixtures/bad";
const fixtures = readdirSync(dir).filter((f) => f.endsWith(".cnn"));

describe("bad-input fixtures", () => {
  it("exist", () => expect(fixtures.length).toBeGreaterThanOrEqual(10));

  for (const name of fixtures) {
    it(name, () => {
      const path = join(dir, name);
      const expected = readExpectations(readFileSync(path, "utf8"));
      expect(expected.length, "a fixture states what it expects").toBeGreaterThan(0);
      const result = checkAllNetworks(path, nodeHost);
      const got = result.diagnostics.map((d) => ({
        severity: d.severity,
        line: d.range.start.line,
        message: d.message,
        file: d.range.file,
        text: formatDiagnostic(d, result.sources),
      }));
      const unmatched = [...got];
      for (const e of expected) {
        const i = unmatched.findIndex(
          (g) => g.severity === e.severity && g.line === e.line && g.message.includes(e.text),
        );
        expect(
          i,
          `expected ${e.severity} on line ${e.line}: ${e.text}\ngot:\n${got.map((g) => g.text).join("\n")}`,
        ).toBeGreaterThanOrEqual(0);
        unmatched.splice(i, 1);
      }
      expect(
        unmatched.map((g) => g.text),
        "diagnostics nobody expected",
      ).toEqual([]);
      // Located and shown: file:line:col, the source line, a caret.
      for (const g of got) {
        expect(g.text).toMatch(
          new RegExp(`^${path.replace(/[.]/g, "\\.")}:\\d+:\\d+: (error|warning): `),
        );
        expect(g.text).toMatch(/\n +\d+ \| .*\n +\| +\^/);
      }
    });
  }
});
