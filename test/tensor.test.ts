// Images made into inputs (runtime/tensor.ts), against values worked out by hand and against a
// direct evaluation of the bilinear formula (PyTorch's interpolate, align_corners=False).
import { describe, expect, it } from "vitest";
import { imageToInput, pixelsToInput } from "../runtime/index.js";

/** PyTorch's bilinear resize of one channel, written from its definition, for comparison. */
function bilinear(src: number[][], H: number, W: number): number[][] {
  const sh = src.length;
  const sw = src[0]!.length;
  const coord = (o: number, n: number, size: number) =>
    Math.min(Math.max((o + 0.5) * (size / n) - 0.5, 0), size - 1);
  return Array.from({ length: H }, (_, y) =>
    Array.from({ length: W }, (_, x) => {
      const fy = coord(y, H, sh);
      const fx = coord(x, W, sw);
      const y0 = Math.floor(fy);
      const x0 = Math.floor(fx);
      const y1 = Math.min(y0 + 1, sh - 1);
      const x1 = Math.min(x0 + 1, sw - 1);
      const dy = fy - y0;
      const dx = fx - x0;
      const row = (r: number) => src[r]![x0]! * (1 - dx) + src[r]![x1]! * dx;
      return row(y0) * (1 - dy) + row(y1) * dy;
    }),
  );
}

describe("pixelsToInput", () => {
  it("keeps an image of the input's size, planar, RGB, scaled to 0..1", () => {
    // 2x1 RGBA: a red and a blue pixel.
    const t = pixelsToInput(
      { data: [255, 0, 0, 255, 0, 0, 255, 255], width: 2, height: 1 },
      { width: 2, height: 1 },
    );
    expect(t.shape).toEqual([1, 3, 1, 2]);
    expect(Array.from(t.data)).toEqual([1, 0, 0, 0, 0, 1]);
  });

  it("orders channels BGR, subtracts the mean and divides by std per channel", () => {
    const t = pixelsToInput(
      { data: [255, 128, 0], width: 1, height: 1, channels: 3 },
      { width: 1, height: 1, order: "bgr", scale: 1, mean: [10, 20, 30], std: [1, 2, 5] },
    );
    expect(Array.from(t.data)).toEqual([0 - 10, (128 - 20) / 2, (255 - 30) / 5]);
  });

  it("makes grey from colour with BT.601 weights, and colour from grey", () => {
    const grey = pixelsToInput(
      { data: [200, 100, 50, 255], width: 1, height: 1 },
      { width: 1, height: 1, channels: 1, scale: 1 },
    );
    expect(grey.shape).toEqual([1, 1, 1, 1]);
    expect(grey.data[0]).toBeCloseTo(0.299 * 200 + 0.587 * 100 + 0.114 * 50, 4);
    const colour = pixelsToInput(
      { data: [7], width: 1, height: 1, channels: 1 },
      { width: 1, height: 1, scale: 1 },
    );
    expect(Array.from(colour.data)).toEqual([7, 7, 7]);
  });

  it("resizes bilinearly with half-pixel centres, up and down", () => {
    const src = [
      [0, 10, 20, 30, 40],
      [50, 60, 70, 80, 90],
      [100, 110, 120, 130, 140],
    ];
    for (const [H, W] of [
      [6, 10],
      [2, 3],
      [1, 1],
      [7, 4],
    ] as const) {
      const t = pixelsToInput(
        { data: src.flat(), width: 5, height: 3, channels: 1 },
        { width: W, height: H, channels: 1, scale: 1 },
      );
      const want = bilinear(src, H, W).flat();
      want.forEach((v, i) => expect(t.data[i]).toBeCloseTo(v, 3));
    }
    // Halving a 2x2 block average: a 4x4 checker of 0 and 100 becomes four 50s.
    const checker = Array.from({ length: 16 }, (_, i) => (((i >> 2) + i) % 2) * 100);
    const half = pixelsToInput(
      { data: checker, width: 4, height: 4, channels: 1 },
      { width: 2, height: 2, channels: 1, scale: 1 },
    );
    expect(Array.from(half.data)).toEqual([50, 50, 50, 50]);
  });

  it("refuses what it cannot make sense of, saying what", () => {
    const px = { data: new Uint8Array(16), width: 2, height: 2 };
    expect(() => pixelsToInput(px, { width: 0, height: 2 })).toThrow(/width must be a positive/);
    expect(() => pixelsToInput({ ...px, width: 3 }, { width: 2, height: 2 })).toThrow(
      /3x2 with 4 channels is 24 values, got 16/,
    );
    expect(() => pixelsToInput(px, { width: 2, height: 2, mean: [1, 2] })).toThrow(
      /mean has 2 values; the input has 3 channels/,
    );
    expect(() => pixelsToInput(px, { width: 2, height: 2, std: [0] })).toThrow(/std/);
  });

  it("imageToInput without a browser's decoder says to decode and call pixelsToInput", async () => {
    // (Node has neither createImageBitmap nor OffscreenCanvas)
    await expect(
      imageToInput({ size: 3, type: "image/png" }, { width: 2, height: 2 }),
    ).rejects.toThrow(/decode the image yourself and call pixelsToInput/);
  });
});
