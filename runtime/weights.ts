// A bundle's weights as float32 arrays: stored ones read from the blob, derived ones computed
// from their source at load (format.ts lists the transforms). The compiler's reference and the
// GPU thus start from the same tensors. In a bundle of f16 weights they are the halves the
// kernels read: stored ones decoded, derived ones computed from those and rounded to halves.
import {
  isDerived,
  type DerivedWeight,
  type Manifest,
  type StoredWeight,
  type WeightFormat,
} from "./format.js";
import { fromHalfBytes, roundToHalf } from "./half.js";

/** A stored tensor's values (a copy: the file's bytes may sit at any alignment). */
export function storedData(
  w: Pick<StoredWeight, "offset" | "bytes">,
  blob: Uint8Array,
  format: WeightFormat = "f32",
): Float32Array {
  if (format === "f16")
    return fromHalfBytes(blob.subarray(w.offset, w.offset + w.bytes), w.bytes / 2);
  const bytes = new Uint8Array(w.bytes);
  bytes.set(blob.subarray(w.offset, w.offset + w.bytes));
  return new Float32Array(bytes.buffer);
}

/**
 * Winograd F(2x2, 3x3) weight transform U = G g G^T for every (filter, channel) pair of a
 * [F, C, 3, 3] weight, laid out [16, F, C] (the 4x4 positions outermost), with
 * G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]].
 */
export function winogradWeights(w: Float32Array, f: number, c: number): Float32Array {
  const u = new Float32Array(16 * f * c);
  const gg = new Float64Array(12); // G g: 4 rows of 3
  for (let o = 0; o < f; o++) {
    for (let i = 0; i < c; i++) {
      const g = (r: number, s: number): number => w[((o * c + i) * 3 + r) * 3 + s]!;
      for (let s = 0; s < 3; s++) {
        gg[s] = g(0, s);
        gg[3 + s] = (g(0, s) + g(1, s) + g(2, s)) / 2;
        gg[6 + s] = (g(0, s) - g(1, s) + g(2, s)) / 2;
        gg[9 + s] = g(2, s);
      }
      for (let r = 0; r < 4; r++) {
        const [a, b, e] = [gg[3 * r]!, gg[3 * r + 1]!, gg[3 * r + 2]!];
        const row = [a, (a + b + e) / 2, (a - b + e) / 2, e];
        for (let s = 0; s < 4; s++) u[((r * 4 + s) * f + o) * c + i] = row[s]!;
      }
    }
  }
  return u;
}

/** [F, C, KH, KW] -> [F, KH, KW, C]: `taps` = KH * KW. */
export function hwcWeights(w: Float32Array, f: number, c: number, taps: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < f; o++) {
    for (let i = 0; i < c; i++) {
      for (let t = 0; t < taps; t++) out[(o * taps + t) * c + i] = w[(o * c + i) * taps + t]!;
    }
  }
  return out;
}

/** A derived weight made from its source's values (shapes already checked by validation). */
export function derive(
  w: DerivedWeight,
  source: Float32Array,
  sourceShape: readonly number[],
): Float32Array {
  const [f, c, kh, kw] = sourceShape as [number, number, number, number];
  switch (w.transform) {
    case "winograd":
      return winogradWeights(source, f, c);
    case "hwc":
      return hwcWeights(source, f, c, kh * kw);
    case "rows": {
      const rowLength = sourceShape.slice(1).reduce((a, b) => a * b, 1);
      return source.subarray(w.rows![0] * rowLength, w.rows![1] * rowLength);
    }
  }
}

/** Every weight's values by name, stored and derived; `wanted` limits which are made. */
export function weightData(
  manifest: Manifest,
  blob: Uint8Array,
  wanted: (name: string) => boolean = () => true,
): Map<string, Float32Array> {
  const stored = new Map<string, Float32Array>();
  const storedShape = new Map<string, readonly number[]>();
  const source = (name: string): Float32Array => {
    let data = stored.get(name);
    if (!data) {
      const w = manifest.weights.find((m) => m.name === name) as StoredWeight;
      data = storedData(w, blob, manifest.weightFormat);
      stored.set(name, data);
      storedShape.set(name, w.shape);
    }
    return data;
  };
  const out = new Map<string, Float32Array>();
  for (const w of manifest.weights) {
    if (!wanted(w.name)) continue;
    if (!isDerived(w)) out.set(w.name, source(w.name));
    else {
      const data = source(w.source);
      const derived = derive(w, data, storedShape.get(w.source)!);
      // (Winograd's transform makes new values, which the GPU's buffer holds as halves too)
      const half = manifest.halfWeights && w.transform === "winograd";
      out.set(w.name, half ? roundToHalf(derived) : derived);
    }
  }
  return out;
}
