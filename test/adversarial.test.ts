// The adversarial corpus (test/adversarial/): several hundred crafted inputs of every kind
// cnnc reads, each run through the built CLI under a memory limit. Every case must end in a
// clean refusal (exit 1, a clean message) or a success with the right answer: no crash, no
// hang, no memory blow-up, no wrong answer, no file damaged, nothing read from outside the
// inputs. The table it prints is the one in issue #19's closing note.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { corpus } from "./adversarial/corpus.js";
import { runAll, table, type Case } from "./adversarial/run.js";

function prepare(c: Case, dir: string): void {
  mkdirSync(join(dir, "proj"), { recursive: true });
  for (const [name, content] of Object.entries(c.files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  c.setup?.(dir);
}

describe("adversarial corpus", () => {
  it("every case is a clean refusal or the right answer", { timeout: 1_800_000 }, async () => {
    const cases = corpus();
    const root = mkdtempSync(join(tmpdir(), "cnnc-corpus-"));
    const results = await runAll(cases, root, prepare);
    console.log(`${table(cases, results)}\n`);
    const slow = results
      .map((r, i) => ({ ms: r.ms, name: `${cases[i]!.kind} ${cases[i]!.name}` }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 12);
    if (process.env.CNNC_CORPUS_TIMES)
      console.log(slow.map((s) => `${s.ms.toFixed(0)} ms ${s.name}`).join("\n"));
    const bad = results
      .map((r, i) => ({ ...r, c: cases[i]! }))
      .filter((r) => r.outcome !== "clean" && r.outcome !== "ok")
      .map((r) => `${r.c.kind} ${r.c.name}: ${r.outcome}: ${r.detail}`);
    expect(bad).toEqual([]);
    expect(cases.length).toBeGreaterThan(300);
  });
});
