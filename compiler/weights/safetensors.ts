// safetensors (Hugging Face's tensor file): an 8-byte little-endian header length, a JSON
// header `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__? }`, then the
// raw little-endian data. Read: F32, F16, BF16 and F64, converted to float32. Write: F32.
import { halfValue } from "../../runtime/half.js";
import { CompileError } from "../errors.js";

export interface NamedTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export class SafetensorsError extends CompileError {}

const dtypeBytes: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** A key given twice in the top-level object of valid JSON text, if any. */
function repeatedKey(json: string): string | undefined {
  const keys = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i]!;
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = depth === 1;
    } else if (c === "}" || c === "]") depth--;
    else if (c === "," && depth === 1) expectKey = true;
  }
  return undefined;
}

export function readSafetensors(bytes: Uint8Array, file = "weights"): Map<string, NamedTensor> {
  if (bytes.length < 8) throw new SafetensorsError(`${file}: too short to be a safetensors file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) {
    throw new SafetensorsError(
      `${file}: header length ${headerLength} runs past the end of the file`,
    );
  }
  let parsed: unknown;
  let json: string;
  try {
    json = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
    parsed = JSON.parse(json);
  } catch {
    throw new SafetensorsError(`${file}: the header is not valid JSON`);
  }
  // JSON.parse keeps the last of two equal keys; the reference reader refuses the file.
  const twice = repeatedKey(json);
  if (twice !== undefined) throw new SafetensorsError(`${file}: the header names '${twice}' twice`);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new SafetensorsError(`${file}: the header is not a JSON object of tensors`);
  const header = parsed as Record<string, unknown>;
  const base = 8 + headerLength;
  const out = new Map<string, NamedTensor>();
  // Tensors may not share bytes: overlapping ranges would let a small file read as a huge one.
  const ranges = Object.entries(header)
    .filter(([name]) => name !== "__metadata__")
    .map(([name, e]) => {
      const o = (e as { data_offsets?: unknown } | null)?.data_offsets;
      return Array.isArray(o) ? { name, begin: Number(o[0]), end: Number(o[1]) } : undefined;
    })
    .filter((r) => r !== undefined && r.end > r.begin)
    .sort((a, b) => a!.begin - b!.begin);
  ranges.forEach((r, k) => {
    const next = ranges[k + 1];
    if (next && r!.end > next.begin)
      throw new SafetensorsError(`${file}: tensors '${r!.name}' and '${next.name}' overlap`);
  });
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (typeof entry !== "object" || entry === null)
      throw new SafetensorsError(`${file}: tensor '${name}' is not described by an object`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const width = typeof e.dtype === "string" ? dtypeBytes[e.dtype] : undefined;
    if (!width)
      throw new SafetensorsError(
        `${file}: tensor '${name}' has unsupported dtype ${String(e.dtype)}`,
      );
    const shape = e.shape;
    const offsets = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${file}: tensor '${name}' has an invalid shape`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      throw new SafetensorsError(`${file}: tensor '${name}' has invalid data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (
      !(begin >= 0 && end >= begin && base + end <= bytes.length) ||
      end - begin !== count * width
    ) {
      throw new SafetensorsError(
        `${file}: tensor '${name}' data is out of range or the wrong size`,
      );
    }
    const data = new Float32Array(count);
    const dv = new DataView(bytes.buffer, bytes.byteOffset + base + begin, end - begin);
    for (let i = 0; i < count; i++) {
      switch (e.dtype) {
        case "F32":
          data[i] = dv.getFloat32(i * 4, true);
          break;
        case "F64":
          data[i] = dv.getFloat64(i * 8, true);
          break;
        case "F16":
          data[i] = halfValue(dv.getUint16(i * 2, true));
          break;
        case "BF16":
          data[i] = new Float32Array(new Uint32Array([dv.getUint16(i * 2, true) << 16]).buffer)[0]!;
          break;
      }
    }
    out.set(name, { shape: shape as number[], data });
  }
  return out;
}

export function writeSafetensors(tensors: ReadonlyMap<string, NamedTensor>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = {
      dtype: "F32",
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8); // data starts 8-byte aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}
