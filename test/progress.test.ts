// Progress bars (cli/progress.ts): drawn in place on a terminal, with "i of N" and the time
// left; nothing at all when stderr is not a terminal or with --quiet; names from a model are
// made safe for the terminal.
import { afterEach, describe, expect, it, vi } from "vitest";
import { progress, type ProgressTarget } from "../cli/progress.js";

function terminal(isTTY = true): ProgressTarget & { text: string } {
  const t = { isTTY, columns: 100, text: "", write: (s: string) => void (t.text += s) };
  return t;
}

afterEach(() => vi.useRealTimers());

describe("progress", () => {
  it("draws one line in place with i of N, then clears it", () => {
    const t = terminal();
    const bar = progress({ target: t });
    bar.update("compiling pipelines", 0, 4);
    expect(t.text).toBe("\r\x1b[2Kcompiling pipelines [--------------------] 0 of 4");
    bar.update("compiling pipelines", 4, 4, "conv_1");
    expect(
      t.text.endsWith("\r\x1b[2Kcompiling pipelines [####################] 4 of 4: conv_1"),
    ).toBe(true);
    bar.done();
    expect(t.text.endsWith("\r\x1b[2K")).toBe(true);
    expect(t.text).not.toContain("\n");
  });

  it("redraws at most every 100 ms, and says the time left once it can tell", () => {
    vi.useFakeTimers();
    const t = terminal();
    const bar = progress({ target: t });
    bar.update("tuning", 0, 10);
    bar.update("tuning", 1, 10); // (within 100 ms: not drawn)
    expect(t.text.match(/\r/g)).toHaveLength(1);
    vi.advanceTimersByTime(2000);
    bar.update("tuning", 2, 10);
    // 2 of 10 in 2 s: 8 s left
    expect(t.text.endsWith("2 of 10, 8 s left")).toBe(true);
    vi.advanceTimersByTime(60_000);
    bar.update("tuning", 4, 10);
    expect(t.text.endsWith("4 of 10, 1 min 33 s left")).toBe(true);
  });

  it("is silent when stderr is not a terminal, or with --quiet", () => {
    for (const [isTTY, quiet] of [
      [false, false],
      [true, true],
    ] as const) {
      const t = terminal(isTTY);
      const bar = progress({ target: t, quiet });
      bar.update("x", 1, 2);
      bar.done();
      expect(t.text).toBe("");
    }
  });

  it("shows a layer name from a model as text, not as escape sequences", () => {
    const t = terminal();
    progress({ target: t }).update("compiling pipelines", 1, 2, "evil\x1b]0;title\x07");
    expect(t.text).not.toContain("\x1b]0");
    expect(t.text).toContain("evil\\x1b]0;title\\x07");
  });
});
