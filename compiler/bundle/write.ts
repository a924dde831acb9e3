// Writes a `.cnnb` bundle: header, manifest, and the weights each at a 256-byte aligned offset
// (the layout is defined once, in runtime/format.ts, which the reader uses too).
import {
  alignUp,
  blobAlignment,
  blobStart,
  crc32,
  formatVersion,
  headerBytes,
  magic,
  type Manifest,
} from "../../runtime/format.js";
import type { Plan } from "../codegen/plan-types.js";
import { winogradWeights } from "../codegen/winograd.js";

/** [F, C, KH, KW] -> [F, KH, KW, C]: `taps` = KH * KW. */
function hwcWeights(w: Float32Array, f: number, c: number, taps: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < f; o++) {
    for (let i = 0; i < c; i++) {
      for (let t = 0; t < taps; t++) out[(o * taps + t) * c + i] = w[(o * c + i) * taps + t]!;
    }
  }
  return out;
}

export function writeBundle(
  plan: Plan,
  weights: ReadonlyMap<string, Float32Array>,
  ir?: string,
  tuning?: Manifest["tuning"],
): Uint8Array {
  const entries = plan.weights.map((w) => {
    const source = weights.get(w.source);
    if (!source) throw new Error(`internal: no data for weight '${w.source}'`);
    if (w.transform === "winograd") {
      return { w, data: winogradWeights(source, w.shape[1]!, w.shape[2]!) };
    }
    if (w.transform === "hwc") {
      const [f, kh, kw, c] = w.shape as [number, number, number, number];
      return { w, data: hwcWeights(source, f, c, kh * kw) };
    }
    if (!w.rows) return { w, data: source };
    // A row range of a weight split for the binding limit: rows are contiguous (row-major).
    const rowLength = w.shape.slice(1).reduce((a, b) => a * b, 1);
    return { w, data: source.subarray(w.rows[0] * rowLength, w.rows[1] * rowLength) };
  });
  let offset = 0;
  const table = entries.map(({ w, data }) => {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const part = w.rows ? { source: w.source, rows: w.rows } : {};
    const entry = {
      name: w.name,
      shape: w.shape,
      offset,
      bytes: bytes.length,
      crc32: crc32(bytes),
      ...part,
    };
    offset = alignUp(offset + bytes.length, blobAlignment);
    return { entry, bytes };
  });
  const blobBytes = table.length
    ? table[table.length - 1]!.entry.offset + table[table.length - 1]!.entry.bytes
    : 0;
  const manifest: Manifest = {
    network: plan.network,
    inputs: plan.inputs,
    outputs: plan.outputs,
    values: plan.values,
    arena: plan.arena,
    weights: table.map((t) => t.entry),
    kernels: plan.kernels,
    dispatches: plan.dispatches,
    blobBytes,
    ...(ir === undefined ? {} : { ir }),
    ...(tuning === undefined ? {} : { tuning }),
  };
  const json = new TextEncoder().encode(JSON.stringify(manifest));
  const start = blobStart(json.length);
  const out = new Uint8Array(start + blobBytes);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(magic), 0);
  view.setUint32(4, formatVersion, true);
  view.setUint32(8, json.length, true);
  view.setUint32(12, crc32(json), true);
  out.set(json, headerBytes);
  for (const t of table) out.set(t.bytes, start + t.entry.offset);
  return out;
}
