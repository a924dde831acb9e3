// The README's sample sessions are what the CLI prints: every `$ npx cnnc ...` line in a plain
// code block is run (as the built CLI, in a scratch folder that sees the repository's examples
// and fixtures, on llvmpipe as CI has it) and its output compared line by line with the lines
// under it; a `...` line stands for any number of lines. Samples measured on hardware the
// test machine lacks are listed below, each with why, and not run.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/** Commands whose sample comes from elsewhere, and why. */
const notRun: Record<string, string> = {
  "npx cnnc tune examples/resnet18.cnn --adapter gpu --verbose --runs 5":
    "measured on an H100 (GPU timings) before the whole-network check; the test machine has no GPU",
};

interface Sample {
  readonly command: string;
  readonly expected: string[];
}

/** The `$ npx cnnc` commands of the README's plain code blocks, each with the lines under it. */
function samples(markdown: string): Sample[] {
  const out: Sample[] = [];
  const blocks = markdown.split(/^```/m).filter((_, i) => i % 2 === 1);
  for (const block of blocks) {
    if (!block.startsWith("\n")) continue; // (a block with a language: code, not a session)
    let current: { command: string; expected: string[] } | undefined;
    for (const line of block.slice(1).split("\n")) {
      if (line.startsWith("$ ")) {
        current = { command: line.slice(2), expected: [] };
        out.push(current);
      } else current?.expected.push(line.trimEnd());
    }
  }
  for (const s of out) while (s.expected.at(-1) === "") s.expected.pop();
  return out.filter((s) => s.command.startsWith("npx cnnc "));
}

/** Why `actual` does not hold `expected` in order (`...` skipping any lines), or undefined. */
function mismatch(expected: readonly string[], actual: readonly string[]): string | undefined {
  let a = 0;
  for (let e = 0; e < expected.length; e++) {
    const want = expected[e]!;
    if (want === "...") {
      const next = expected[e + 1];
      if (next === undefined) return undefined;
      while (a < actual.length && actual[a] !== next) a++;
      if (a === actual.length) return `no line '${next}' after the '...'`;
      continue;
    }
    if (actual[a] !== want)
      return `line ${a + 1}: expected '${want}', got '${actual[a] ?? "(end of output)"}'`;
    a++;
  }
  return a === actual.length ? undefined : `more lines than the sample: '${actual[a]}'`;
}

const readme = readFileSync("README.md", "utf8");
const cli = resolve("dist/cli/bin.js");
const dir = mkdtempSync(join(tmpdir(), "cnnc-readme-"));
for (const folder of ["examples", "test"]) symlinkSync(resolve(folder), join(dir, folder));

describe("the README's sample sessions", () => {
  it("finds the samples, and runs all but those listed with a reason", () => {
    const commands = samples(readme).map((s) => s.command);
    expect(commands).toContain("npx cnnc summary examples/lenet5.cnn");
    for (const c of Object.keys(notRun)) expect(commands, "a listed sample is gone").toContain(c);
  });

  it("the matcher refuses what differs and takes '...' for any lines", () => {
    expect(mismatch(["a", "...", "d"], ["a", "b", "c", "d"])).toBeUndefined();
    expect(mismatch(["a", "c"], ["a", "b"])).toMatch(/expected 'c', got 'b'/);
    expect(mismatch(["a"], ["a", "b"])).toMatch(/more lines/);
    expect(mismatch(["...", "z"], ["a"])).toMatch(/no line 'z'/);
  });

  // In order: a later command may read what an earlier one wrote (build, then run).
  for (const sample of samples(readme).filter((s) => !(s.command in notRun))) {
    it(sample.command, { timeout: 120_000 }, () => {
      const args = sample.command.replace(/^npx cnnc /, "").split(/\s+/);
      const r = spawnSync(process.execPath, [cli, ...args], {
        cwd: dir,
        encoding: "utf8",
        env: { ...process.env, CNNC_ADAPTER: "llvmpipe" },
      });
      const actual = (r.stdout + r.stderr)
        .replace(/\n$/, "")
        .split("\n")
        .map((l) => l.trimEnd());
      expect(
        mismatch(sample.expected, actual),
        `${sample.command}\n${r.stdout}${r.stderr}`,
      ).toBeUndefined();
    });
  }
});
