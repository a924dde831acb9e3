// `cnnc tune`'s whole-network check (cli/tune-command.ts): from alternating GPU-time pairs
// [untuned, tuned], the median speedup, how many pairs the tuned bundle won, the sign test's
// p-value, and whether the tuned bundle may be written (never when it is not faster).
import { describe, expect, it } from "vitest";
import { verdict } from "../cli/tune-command.js";

describe("the tuned bundle's whole-network verdict", () => {
  it("keeps a bundle faster in most pairs, with the sign test's p-value", () => {
    const v = verdict(Array.from({ length: 9 }, (_, i) => [2 + i * 0.01, 1] as const));
    expect(v).toMatchObject({ wins: 9, pairs: 9, keepTuned: true });
    expect(v.speedup).toBeCloseTo(2.04, 5);
    expect(v.p).toBeCloseTo(1 / 512, 10); // 9 heads of 9 fair flips
  });

  it("refuses one that is slower, or faster only by the noise of a minority of pairs", () => {
    // SepNet's case in the issue: tuned measured 0.36x
    expect(verdict(Array.from({ length: 9 }, () => [1, 2.8] as const)).keepTuned).toBe(false);
    // faster in 4 pairs by a lot, slower in 5: the median pair is slower
    const mixed = [
      ...Array.from({ length: 4 }, () => [3, 1] as const),
      ...Array.from({ length: 5 }, () => [1, 1.1] as const),
    ];
    const v = verdict(mixed);
    expect(v.wins).toBe(4);
    expect(v.keepTuned).toBe(false);
    expect(v.p).toBeCloseTo(382 / 512, 10); // P(X >= 4) = 1 - (1 + 9 + 36 + 84) / 512
    // ties are not wins
    expect(verdict([[1, 1] as const]).keepTuned).toBe(false);
  });
});
