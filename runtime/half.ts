// IEEE 754 binary16 ("half", WGSL's f16) conversions, for bundles that store their weights as
// f16 (Manifest.weightFormat) and for the compiler's readers of safetensors F16 and ONNX
// FLOAT16 tensors: the writer rounds each float to the nearest half, ties to even, as WGSL's
// pack2x16float and every GPU's conversion do; the runtime decodes them for the CPU reference
// and packs them two to a u32 for kernels that read them with unpack2x16float.

/** The largest finite half: 65504. A float this far from it or farther rounds to infinity. */
export const maxHalf = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The half nearest `x` (ties to even), as its 16 bits. */
export function halfBits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // infinity, NaN
  const e = exponent - 127 + 15; // the half's biased exponent
  if (e >= 0x1f) return sign | 0x7c00; // beyond the largest half
  if (e <= 0) {
    // a subnormal half (or zero): the implicit bit joins the mantissa, shifted into place
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const midway = 1 << (shift - 1);
    return sign | (half + (rest > midway || (rest === midway && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // a carry out of the mantissa steps the exponent, to infinity at the top: the bits do that
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** The value of a half's 16 bits. */
export function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Every half's value by its bits (256 KiB, made at the first decoding). */
let table: Float32Array | undefined;
const valueOf = (): Float32Array =>
  (table ??= Float32Array.from({ length: 0x10000 }, (_, h) => halfValue(h)));

/** Each value rounded to the nearest half (the values an f16 weight's kernels read). */
export function roundToHalf(values: Float32Array): Float32Array {
  const of = valueOf();
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = of[halfBits(values[i]!)]!;
  return out;
}

/** The values as halves, little-endian, two bytes each. */
export function halfBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  values.forEach((x, i) => view.setUint16(2 * i, halfBits(x), true));
  return out;
}

/** `count` halves read from little-endian bytes. */
export function fromHalfBytes(bytes: Uint8Array, count: number): Float32Array {
  const of = valueOf();
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = of[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  return out;
}

/**
 * A weight's storage buffer as f16 kernels read it: two halves to each u32 (element 2i in the
 * low half, as unpack2x16float takes it), padded with a zero half to a whole u32.
 */
export function packHalves(values: Float32Array): Uint32Array {
  const out = new Uint32Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++)
    out[i >> 1] = (out[i >> 1] ?? 0) | (halfBits(values[i]!) << (16 * (i & 1)));
  return out;
}

/** Where `values` holds a finite float that no half can hold (|x| > 65504): its index. */
export function beyondHalf(values: Float32Array): number {
  return values.findIndex((x) => Number.isFinite(x) && halfBits(x) % 0x8000 === 0x7c00);
}
