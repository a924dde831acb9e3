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
  type AdapterClass,
  type DerivedWeight,
  type Manifest,
  type ManifestVariant,
  type StoredWeight,
} from "../../runtime/format.js";
import type { Plan } from "../codegen/plan-types.js";

/**
 * The plan's weights as the manifest lists them: the network's tensors stored (every source a
 * derived weight names, whether or not a kernel binds it), the derived ones as recipes.
 */
export function writeBundle(
  plan: Plan,
  weights: ReadonlyMap<string, Float32Array>,
  ir?: string,
  tuning?: Manifest["tuning"],
  /** Hears of each stored weight as it is checksummed (done of total bytes). */
  onProgress?: (done: number, total: number) => void,
  /** Plans of the same graph for other classes of adapter (Manifest.variants). */
  variants?: Readonly<Partial<Record<AdapterClass, Plan>>>,
): Uint8Array {
  const data = (name: string): Float32Array => {
    const d = weights.get(name);
    if (!d) throw new Error(`internal: no data for weight '${name}'`);
    return d;
  };
  const storedNames = new Set<string>();
  const shapeOf = new Map<string, readonly number[]>();
  // each plan's derived weights; the tensors every plan reads or derives from, stored once
  const derivedOf = (p: Plan): DerivedWeight[] => {
    const derived: DerivedWeight[] = [];
    for (const w of p.weights) {
      if (w.transform === undefined && w.rows === undefined) {
        storedNames.add(w.name);
        shapeOf.set(w.name, w.shape);
        continue;
      }
      storedNames.add(w.source);
      const transform = w.transform ?? "rows";
      derived.push({
        name: w.name,
        shape: w.shape,
        source: w.source,
        transform,
        ...(w.rows ? { rows: w.rows } : {}),
      });
    }
    for (const w of p.weights) {
      if (w.sourceShape && !shapeOf.has(w.source)) shapeOf.set(w.source, w.sourceShape);
    }
    return derived;
  };
  const derived = derivedOf(plan);
  const others = Object.entries(variants ?? {}).map(([cls, p]) => {
    const part: ManifestVariant = {
      values: p.values,
      arena: p.arena,
      weights: derivedOf(p),
      kernels: p.kernels,
      dispatches: p.dispatches,
    };
    return [cls, part] as const;
  });
  const entries = [...storedNames].map((name) => ({
    name,
    shape: shapeOf.get(name)!,
    data: data(name),
  }));
  let offset = 0;
  let summed = 0;
  const totalBytes = entries.reduce((n, e) => n + e.data.byteLength, 0);
  const table = entries.map(({ name, shape, data }) => {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const entry: StoredWeight = { name, shape, offset, bytes: bytes.length, crc32: crc32(bytes) };
    offset = alignUp(offset + bytes.length, blobAlignment);
    summed += bytes.length;
    onProgress?.(summed, totalBytes);
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
    weights: [...table.map((t) => t.entry), ...derived],
    kernels: plan.kernels,
    dispatches: plan.dispatches,
    blobBytes,
    ...(ir === undefined ? {} : { ir }),
    ...(tuning === undefined ? {} : { tuning }),
    ...(others.length ? { variants: Object.fromEntries(others) } : {}),
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
