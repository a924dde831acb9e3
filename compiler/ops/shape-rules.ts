// Shape-rule helpers the op families share: sliding windows (PyTorch's rule, ceil mode
// included), channel checks, broadcasting. Each throws ShapeError worded without the op name.
import { elementCount, formatShape, type Shape } from "../ir/graph.js";
import { ShapeError, type Pair, type PadMode, type Quad } from "./types.js";

/** Tensors are capped so that every count below stays an exact integer in a double. */
export const maxElements = 2 ** 40;

export function checked(shape: number[]): Shape {
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new ShapeError(`the output ${formatShape(shape)} would be empty`);
  }
  if (elementCount(shape) > maxElements) {
    throw new ShapeError(`the output ${formatShape(shape)} is too large (over 2^40 elements)`);
  }
  return shape;
}

export function spatial(input: Shape | undefined): readonly [number, number, number] {
  if (!input || input.length !== 3) {
    throw new ShapeError(`expects a [C, H, W] input, got ${formatShape(input ?? [])}`);
  }
  return [input[0]!, input[1]!, input[2]!];
}

export function pairText(a: number, b: number): string {
  return `${a}x${b}`;
}

export function checkReflect(p: Quad, h: number, w: number, mode: PadMode): void {
  if (mode !== "reflect") return;
  const [t, l, b, r] = p;
  if (Math.max(t, b) >= h || Math.max(l, r) >= w) {
    throw new ShapeError(
      `reflect padding ${formatShape(p)} must be smaller than the input ${pairText(h, w)}`,
    );
  }
}

/** Output size of a sliding window, PyTorch's rule (ceil mode included). */
export function windowOutput(
  size: number,
  k: number,
  s: number,
  pBegin: number,
  pEnd: number,
  d: number,
  ceil: boolean,
): number {
  const span = size + pBegin + pEnd - (d * (k - 1) + 1);
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // In ceil mode the last window must start inside the input or its left padding.
  if (ceil && (out - 1) * s >= size + pBegin) out--;
  return out;
}

/** Kernel, stride and dilation of at least 1 and padding of at least 0, all integers. */
export function checkWindow(what: string, k: Pair, s: Pair, p: Quad, d: Pair): void {
  const positive = (v: number) => Number.isSafeInteger(v) && v >= 1;
  if (![...k, ...s, ...d].every(positive))
    throw new ShapeError(
      `${what} ${formatShape(k)}, stride ${formatShape(s)} and dilation ${formatShape(d)} must be positive integers`,
    );
  if (!p.every((v) => Number.isSafeInteger(v) && v >= 0))
    throw new ShapeError(`padding ${formatShape(p)} must be non-negative integers`);
}

export function slidingWindow(
  what: string,
  input: Shape | undefined,
  k: Pair,
  s: Pair,
  p: Quad,
  d: Pair,
  ceil: boolean,
): [number, number] {
  checkWindow(what, k, s, p, d);
  const [, h, w] = spatial(input);
  const [t, l, b, r] = p;
  const ph = h + t + b;
  const pw = w + l + r;
  const kh = d[0] * (k[0] - 1) + 1;
  const kw = d[1] * (k[1] - 1) + 1;
  if (kh > ph || kw > pw) {
    const dilated = d[0] > 1 || d[1] > 1 ? ` (dilated to ${pairText(kh, kw)})` : "";
    const padded = t + l + b + r > 0 ? "padded input" : "input";
    throw new ShapeError(
      `${what} ${pairText(k[0], k[1])}${dilated} is larger than the ${padded} ${pairText(ph, pw)}`,
    );
  }
  return [
    windowOutput(h, k[0], s[0], t, b, d[0], ceil),
    windowOutput(w, k[1], s[1], l, r, d[1], ceil),
  ];
}

export function divisible(what: string, n: number, g: number): void {
  if (n % g !== 0) throw new ShapeError(`${what} ${n} are not divisible by groups ${g}`);
}

/** The optional residual input must have exactly the output's shape. */
export function checkResidual(out: Shape, residual: Shape | undefined): Shape {
  if (residual && (residual.length !== out.length || residual.some((d, i) => d !== out[i]))) {
    throw new ShapeError(
      `residual ${formatShape(residual)} does not match the output ${formatShape(out)}`,
    );
  }
  return out;
}

/** NumPy broadcasting of same-rank shapes: each dimension equal, or 1. */
export function broadcast(inputs: readonly Shape[]): Shape {
  const first = inputs[0] ?? [];
  for (const other of inputs.slice(1)) {
    const ok =
      other.length === first.length &&
      other.every((d, i) => d === first[i] || d === 1 || first[i] === 1);
    if (!ok) throw new ShapeError(`${formatShape(first)} vs ${formatShape(other)}`);
  }
  return first.map((_, i) => Math.max(...inputs.map((s) => s[i]!)));
}

export const sameShape = (_: unknown, inputs: readonly Shape[]): Shape => inputs[0] ?? [];

/** [C, H, W] of a shape, 1 where it has fewer dimensions. */
export type Dims3 = readonly [number, number, number];
export const dims3 = (s: Shape | undefined): Dims3 => [s?.[0] ?? 1, s?.[1] ?? 1, s?.[2] ?? 1];
