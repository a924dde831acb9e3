// NumPy's .npy format (version 1.0/2.0): magic, header length, a Python-dict header with
// descr, fortran_order and shape, then the raw data. cnnc reads little-endian float32 and
// float64 in C order, and writes float32.

export class NpyError extends Error {}

export interface NpyArray {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export function readNpy(bytes: Uint8Array, file = "array"): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b))
    throw new NpyError(`${file}: not a .npy file`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLength > bytes.length) throw new NpyError(`${file}: truncated header`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new NpyError(`${file}: unreadable header ${header.trim()}`);
  if (fortran === "True")
    throw new NpyError(`${file}: Fortran-ordered arrays are not supported; save in C order`);
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s)
    .map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0))
    throw new NpyError(`${file}: bad shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const width = descr === "<f4" ? 4 : descr === "<f8" ? 8 : 0;
  if (!width)
    throw new NpyError(`${file}: dtype ${descr} is not supported; use float32 ('<f4') or float64`);
  const begin = start + headerLength;
  if (bytes.length - begin < count * width)
    throw new NpyError(
      `${file}: holds ${bytes.length - begin} data bytes, shape (${shape.join(", ")}) needs ${count * width}`,
    );
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++)
    data[i] =
      width === 4 ? view.getFloat32(begin + 4 * i, true) : view.getFloat64(begin + 8 * i, true);
  return { shape, data };
}

export function writeNpy(shape: readonly number[], data: Float32Array): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n"; // data 64-byte aligned
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + head.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, head.length, true);
  out.set(head, 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + head.length);
  return out;
}
