// `cnnc tune`'s whole-network check (cli/tune-command.ts): from alternating GPU-time pairs
// [untuned, tuned], the median speedup, how many pairs the tuned bundle won, the sign test's
// p-value, and whether the tuned bundle may be written (never when it is not faster).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { settled, verdict } from "../cli/tune-command.js";

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

  it("stops measuring once the pairs left could not change the verdict", () => {
    expect(settled(5, 5, 9)).toBe(true); // most of 9 won
    expect(settled(0, 5, 9)).toBe(true); // most of 9 lost
    expect(settled(4, 5, 9)).toBe(false);
    expect(settled(4, 8, 9)).toBe(false); // 4 to 4: the last pair decides
    expect(settled(4, 9, 9)).toBe(true);
    // whatever the pairs, the verdict on those measured until settled is the verdict on all
    const ratio = fc.oneof(
      fc.double({ min: 0.5, max: 0.99, noNaN: true }),
      fc.double({ min: 1.01, max: 2, noNaN: true }),
    );
    fc.assert(
      fc.property(fc.array(ratio, { minLength: 9, maxLength: 9 }), (ratios) => {
        const pairs = ratios.map((r) => [r, 1] as const);
        let n = 0;
        while (!settled(pairs.slice(0, n).filter(([u, t]) => u / t > 1).length, n, 9)) n++;
        expect(n).toBeLessThanOrEqual(9);
        expect(verdict(pairs.slice(0, n)).keepTuned).toBe(verdict(pairs).keepTuned);
      }),
      { numRuns: 500 },
    );
  });
});
