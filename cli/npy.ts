// NumPy's .npy format (versions 1 to 3): magic, header length, a Python-dict header with
// descr, fortran_order and shape, then the raw data. cnnc reads little-endian float32 and
// float64 in C order, and writes float32.

export class NpyError extends Error {}

export interface NpyArray {
  readonly shape: readonly number[];
  readonly data: Float32Array;
  /** NumPy's dtype as the header gives it ('<f4', '|u1', '<i8', ...). */
  readonly dtype: string;
}

/** The dtypes read (little-endian, or one byte): each value's width and reader. */
const dtypes: Readonly<Record<string, readonly [number, (v: DataView, at: number) => number]>> = {
  "<f4": [4, (v, at) => v.getFloat32(at, true)],
  "<f8": [8, (v, at) => v.getFloat64(at, true)],
  "|u1": [1, (v, at) => v.getUint8(at)],
  "|i1": [1, (v, at) => v.getInt8(at)],
  "<i2": [2, (v, at) => v.getInt16(at, true)],
  "<u2": [2, (v, at) => v.getUint16(at, true)],
  "<i4": [4, (v, at) => v.getInt32(at, true)],
  "<u4": [4, (v, at) => v.getUint32(at, true)],
  "<i8": [8, (v, at) => Number(v.getBigInt64(at, true))],
  "<u8": [8, (v, at) => Number(v.getBigUint64(at, true))],
};

/**
 * The header is a Python literal (a dict); it is parsed as one, as NumPy's `safe_eval` does:
 * strings in either quote with escapes, integers, True/False/None, tuples and lists. Exactly
 * the keys NumPy writes, each once; anything else is an error naming what was found.
 */
type PyValue = string | number | boolean | null | PyValue[] | Tuple | Map<string, PyValue>;

/** A Python tuple: NumPy's shape is one (a list there is an error, as `(8)` is the int 8). */
class Tuple {
  constructor(readonly items: readonly PyValue[]) {}
}

function parsePython(text: string, file: string): PyValue {
  let i = 0;
  const fail = (why: string): never => {
    throw new NpyError(`${file}: unreadable header (${why} at character ${i + 1})`);
  };
  const space = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const value = (depth: number): PyValue => {
    if (depth > 16) fail("nested too deeply");
    space();
    const c = text[i];
    if (c === "'" || c === '"') {
      let out = "";
      for (i++; i < text.length && text[i] !== c; i++) {
        if (text[i] === "\\") i++;
        out += text[i] ?? "";
      }
      if (text[i] !== c) fail("an unterminated string");
      i++;
      return out;
    }
    if (c === "{" || c === "(" || c === "[") {
      const close = c === "{" ? "}" : c === "(" ? ")" : "]";
      i++;
      const items: PyValue[] = [];
      const dict = new Map<string, PyValue>();
      let commas = 0;
      for (;;) {
        space();
        if (text[i] === close) break;
        const item = value(depth + 1);
        if (c === "{") {
          space();
          if (typeof item !== "string") fail("a dict key that is not a string");
          if (text[i] !== ":") fail("a missing ':'");
          i++;
          if (dict.has(item as string)) fail(`the key '${item}' given twice`);
          dict.set(item as string, value(depth + 1));
        } else items.push(item);
        space();
        if (text[i] === ",") {
          i++;
          commas++;
        } else if (text[i] !== close) fail(`a missing ',' or '${close}'`);
      }
      i++;
      if (c === "{") return dict;
      if (c === "[") return items;
      // (x) is x itself; (x,) and () are tuples.
      return items.length === 1 && commas === 0 ? items[0]! : new Tuple(items);
    }
    const word = /^(True|False|None|-?\d+)/.exec(text.slice(i))?.[0];
    if (word === undefined) fail("an unexpected character");
    i += word!.length;
    return word === "True"
      ? true
      : word === "False"
        ? false
        : word === "None"
          ? null
          : Number(word);
  };
  const result = value(0);
  space();
  if (i !== text.length) fail("text after the header");
  return result;
}

export function readNpy(bytes: Uint8Array, file = "array"): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b))
    throw new NpyError(`${file}: not a .npy file`);
  const major = bytes[6]!;
  if (major < 1 || major > 3)
    throw new NpyError(`${file}: .npy format version ${major} is unknown`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major > 1 && bytes.length < 12) throw new NpyError(`${file}: truncated header`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLength > bytes.length) throw new NpyError(`${file}: truncated header`);
  let text: string;
  try {
    text = new TextDecoder(major >= 3 ? "utf-8" : "latin1", { fatal: true }).decode(
      bytes.subarray(start, start + headerLength),
    );
  } catch {
    throw new NpyError(`${file}: the header is not text`);
  }
  const header = parsePython(text, file);
  if (!(header instanceof Map)) throw new NpyError(`${file}: the header is not a dict`);
  const keys = [...header.keys()].sort().join(", ");
  if (keys !== "descr, fortran_order, shape")
    throw new NpyError(
      `${file}: the header's keys are ${keys}; a .npy has descr, fortran_order and shape`,
    );
  const descr = header.get("descr");
  const fortran = header.get("fortran_order");
  const dims = header.get("shape");
  if (typeof fortran !== "boolean")
    throw new NpyError(`${file}: fortran_order is not True or False`);
  if (fortran)
    throw new NpyError(`${file}: Fortran-ordered arrays are not supported; save in C order`);
  if (
    !(dims instanceof Tuple) ||
    !dims.items.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
  )
    throw new NpyError(`${file}: the shape is not a tuple of sizes`);
  const shape = dims.items as number[];
  const count = shape.reduce((a, b) => a * b, 1);
  const reader = typeof descr === "string" ? dtypes[descr] : undefined;
  if (!reader)
    throw new NpyError(
      `${file}: dtype ${JSON.stringify(descr)} is not supported; use float32 ('<f4'), float64, or little-endian integers`,
    );
  const [width, read] = reader;
  const begin = start + headerLength;
  if (bytes.length - begin < count * width)
    throw new NpyError(
      `${file}: holds ${bytes.length - begin} data bytes, shape (${shape.join(", ")}) needs ${count * width}`,
    );
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = read(view, begin + width * i);
  return { shape, data, dtype: descr as string };
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
