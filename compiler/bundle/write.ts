// Writes a `.cnnb` bundle: header, manifest, and the weights each at a 256-byte aligned offset
// (the layout is defined once, in runtime/format.ts, which the reader uses too).
import {
  alignUp,
  blobAlignment,
  blobStart,
  crc32,
  headerBytes,
  magic,
  type AdapterClass,
  type DerivedWeight,
  type Manifest,
  type ManifestVariant,
  type StoredWeight,
  type WeightFormat,
  versionFor,
} from "../../runtime/format.js";
import { halfBytes } from "../../runtime/half.js";
import type { Plan } from "../codegen/plan-types.js";
import type { OptimizerConfig, TrainingManifest, TrainPlan } from "../../runtime/train-format.js";

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
  /** Quick-start plans by class of adapter (Manifest.quick). */
  quick?: Readonly<Partial<Record<AdapterClass, Plan>>>,
  /** How the weights are stored ("f16": each plan says how its kernels read them). */
  weightFormat: WeightFormat = "f32",
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
  const part = (p: Plan): ManifestVariant => ({
    values: p.values,
    arena: p.arena,
    weights: derivedOf(p),
    kernels: p.kernels,
    ...(p.subgroupKernels ? { subgroupKernels: p.subgroupKernels } : {}),
    dispatches: p.dispatches,
    ...(p.halfWeights ? { halfWeights: p.halfWeights } : {}),
  });
  const others = Object.entries(variants ?? {}).map(([cls, p]) => [cls, part(p)] as const);
  const quickParts = Object.entries(quick ?? {}).map(([cls, p]) => [cls, part(p)] as const);
  const entries = [...storedNames].map((name) => ({
    name,
    shape: shapeOf.get(name)!,
    data: data(name),
  }));
  const { table, blobBytes } = blobTable(entries, onProgress, weightFormat);
  const manifest: Manifest = {
    network: plan.network,
    inputs: plan.inputs,
    outputs: plan.outputs,
    values: plan.values,
    arena: plan.arena,
    weights: [...table.map((t) => t.entry), ...derived],
    kernels: plan.kernels,
    ...(plan.subgroupKernels ? { subgroupKernels: plan.subgroupKernels } : {}),
    dispatches: plan.dispatches,
    blobBytes,
    ...(weightFormat === "f16" ? { weightFormat } : {}),
    ...(plan.halfWeights ? { halfWeights: plan.halfWeights } : {}),
    ...(ir === undefined ? {} : { ir }),
    ...(tuning === undefined ? {} : { tuning }),
    ...(others.length ? { variants: Object.fromEntries(others) } : {}),
    ...(quickParts.length ? { quick: Object.fromEntries(quickParts) } : {}),
  };
  return container(manifest, table, versionFor(manifest));
}

/** Each tensor's place in the blob (256-byte aligned) and checksum, in the order given. */
function blobTable(
  entries: readonly { name: string; shape: readonly number[]; data: Float32Array }[],
  onProgress?: (done: number, total: number) => void,
  format: WeightFormat = "f32",
): { table: { entry: StoredWeight; bytes: Uint8Array }[]; blobBytes: number } {
  let offset = 0;
  let summed = 0;
  const totalBytes = entries.reduce((n, e) => n + e.data.byteLength, 0);
  const table = entries.map(({ name, shape, data }) => {
    const bytes =
      format === "f16"
        ? halfBytes(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const entry: StoredWeight = { name, shape, offset, bytes: bytes.length, crc32: crc32(bytes) };
    offset = alignUp(offset + bytes.length, blobAlignment);
    summed += data.byteLength; // (of the f32 values given, as the total)
    onProgress?.(summed, totalBytes);
    return { entry, bytes };
  });
  const last = table.at(-1)?.entry;
  return { table, blobBytes: last ? last.offset + last.bytes : 0 };
}

/** Header, manifest and blob: the container every bundle shares. */
function container(
  manifest: unknown,
  table: readonly { entry: StoredWeight; bytes: Uint8Array }[],
  version: number,
): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(manifest));
  const last = table.at(-1)?.entry;
  const blobBytes = last ? last.offset + last.bytes : 0;
  const start = blobStart(json.length);
  const out = new Uint8Array(start + blobBytes);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(magic), 0);
  view.setUint32(4, version, true);
  view.setUint32(8, json.length, true);
  view.setUint32(12, crc32(json), true);
  out.set(json, headerBytes);
  for (const t of table) out.set(t.bytes, start + t.entry.offset);
  return out;
}

/**
 * A training bundle (runtime/train-format.ts): the plan, the optimiser it updates with, and in
 * the blob the initial weights (`weights`, every weight buffer of the plan) and the constants.
 */
export function writeTrainingBundle(
  plan: TrainPlan,
  weights: ReadonlyMap<string, Float32Array>,
  optimizer: OptimizerConfig,
): Uint8Array {
  const stored = plan.buffers.filter((b) => b.role === "weight" || b.role === "const");
  const { table, blobBytes } = blobTable(
    stored.map((b) => {
      const data = b.role === "const" ? b.init : weights.get(b.name);
      if (!data || data.length !== b.size)
        throw new Error(`internal: no data of ${b.size} values for '${b.name}'`);
      return { name: b.name, shape: [b.size], data };
    }),
  );
  const at = new Map(table.map((t) => [t.entry.name, t.entry]));
  const manifest: TrainingManifest = {
    kind: "training",
    ...plan,
    buffers: plan.buffers.map(({ init: _, ...b }) => {
      const e = at.get(b.name);
      return e ? { ...b, data: { offset: e.offset, bytes: e.bytes, crc32: e.crc32 } } : b;
    }),
    optimizer,
    blobBytes,
  };
  return container(manifest, table, versionFor({}));
}
