// Training data: labelled items in memory, read from IDX files (the MNIST / Fashion-MNIST
// format: a magic number giving the element type and rank, big-endian sizes, then the values)
// or from arrays already decoded (.npy pairs, read by the CLI). Images of bytes scale to [0, 1].
import { elementCount, formatShape, type Shape } from "../ir/graph.js";
import { CompileError } from "../errors.js";

export class DataError extends CompileError {}

export interface Dataset {
  /** Items, each `shape`, one after another. */
  readonly x: Float32Array;
  readonly shape: Shape;
  readonly labels: Int32Array;
  readonly count: number;
}

export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Float32Array;
  /** Bytes (0x08): images, scaled to [0, 1] by the reader of images. */
  readonly bytes: boolean;
}

const idxTypes: Readonly<Record<number, readonly [number, (v: DataView, at: number) => number]>> = {
  0x08: [1, (v, at) => v.getUint8(at)],
  0x09: [1, (v, at) => v.getInt8(at)],
  0x0b: [2, (v, at) => v.getInt16(at)],
  0x0c: [4, (v, at) => v.getInt32(at)],
  0x0d: [4, (v, at) => v.getFloat32(at)],
  0x0e: [8, (v, at) => v.getFloat64(at)],
};

export function readIdx(bytes: Uint8Array, file: string): IdxArray {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0)
    throw new DataError(`${file}: not an IDX file (its first two bytes are not 0)`);
  const type = idxTypes[bytes[2]!];
  if (!type)
    throw new DataError(`${file}: IDX element type 0x${bytes[2]!.toString(16)} is unknown`);
  const rank = bytes[3]!;
  if (rank < 1 || bytes.length < 4 + 4 * rank)
    throw new DataError(`${file}: truncated IDX header (rank ${rank})`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const [width, read] = type;
  const count = dims.reduce((a, b) => a * b, 1);
  const begin = 4 + 4 * rank;
  if (bytes.length - begin !== count * width)
    throw new DataError(
      `${file}: holds ${bytes.length - begin} data bytes, [${dims.join(", ")}] needs ${count * width}`,
    );
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = read(view, begin + i * width);
  return { dims, data, bytes: bytes[2] === 0x08 };
}

/**
 * Items and labels as a dataset: `x` [N, ...item], `y` [N] (or [N, 1]) of class indices; bytes
 * scale to [0, 1]. Refused: counts that differ, labels that are not classes.
 */
export function dataset(
  x: { readonly dims: readonly number[]; readonly data: Float32Array; readonly bytes: boolean },
  y: { readonly dims: readonly number[]; readonly data: Float32Array },
  classes: number,
  what: string,
): Dataset {
  const count = x.dims[0] ?? 0;
  const ycount = y.dims[0] ?? 0;
  if (y.dims.length > 2 || (y.dims.length === 2 && y.dims[1] !== 1))
    throw new DataError(`${what}: labels must be [N], got [${y.dims.join(", ")}]`);
  if (count !== ycount) throw new DataError(`${what}: ${count} items but ${ycount} labels`);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const l = y.data[i]!;
    if (!(Number.isInteger(l) && l >= 0 && l < classes))
      throw new DataError(
        `${what}: label ${l} of item ${i} is not a class of the network's ${classes}`,
      );
    labels[i] = l;
  }
  const data = x.bytes ? x.data.map((v) => v / 255) : x.data;
  return { x: data, shape: x.dims.slice(1), labels, count };
}

/**
 * The items as the network's input: the same values in the input's shape ([28, 28] images
 * for a [1, 28, 28] input); refused where the sizes differ, with both shapes.
 */
export function fitInput(data: Dataset, input: Shape, what: string): Dataset {
  if (elementCount(data.shape) !== elementCount(input))
    throw new DataError(
      `${what}: items are ${formatShape(data.shape)}, the network's input is ${formatShape(input)}`,
    );
  return { ...data, shape: input };
}

/** Items [from, from + n) in the order `order`: their values and labels. */
export function gather(
  data: Dataset,
  order: Int32Array,
  from: number,
  n: number,
): { x: Float32Array; labels: Int32Array } {
  const per = elementCount(data.shape);
  const x = new Float32Array(n * per);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = order[from + i]!;
    x.set(data.x.subarray(k * per, (k + 1) * per), i * per);
    labels[i] = data.labels[k]!;
  }
  return { x, labels };
}

/** A seeded Fisher-Yates shuffle of 0..n-1. */
export function shuffled(n: number, rand: () => number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** The first `n` items, and the rest. */
export function split(data: Dataset, n: number): [Dataset, Dataset] {
  const per = elementCount(data.shape);
  const part = (a: number, b: number): Dataset => ({
    x: data.x.subarray(a * per, b * per),
    shape: data.shape,
    labels: data.labels.subarray(a, b),
    count: b - a,
  });
  return [part(0, n), part(n, data.count)];
}
