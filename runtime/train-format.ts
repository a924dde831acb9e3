// The training bundle: what `cnnc build --train` writes and `loadTrainer` reads, in the
// container every bundle shares (runtime/format.ts: header, manifest, blob). Its manifest says
// `"kind": "training"` and holds a training plan (compiler/train/plan.ts): the values of the
// two arenas (activations kept for the backward pass, their gradients), the fixed buffers
// (weights, their gradients, the optimiser's slots, layers' state, constants of backward
// kernels, the hyperparameters and the loss sums), the kernels and five dispatch lists
// (forward in training mode, loss, backward, update, predict). The blob holds the initial
// weights and the constants. Like an inference bundle's, every check has a name.
import {
  arr,
  checkTensors,
  count,
  dispatchList,
  fail,
  hyperSize,
  isRecord,
  maxElements,
  placedValue,
  readContainer,
  bundleKind,
  shape,
  str,
  type Binding,
  type Grid,
} from "./format.js";
import { storedData } from "./weights.js";

export type OptimizerKind = "sgd" | "adam" | "adamw";
export const optimizerKinds: readonly OptimizerKind[] = ["sgd", "adam", "adamw"];

export interface OptimizerConfig {
  readonly kind: OptimizerKind;
  /** The learning rate the schedule starts from. */
  readonly lr: number;
  /** SGD's momentum (0.9 unless said). */
  readonly momentum?: number;
  readonly nesterov?: boolean;
  /** L2 penalty (SGD, Adam) or decoupled decay (AdamW; 0.01 unless said). */
  readonly weightDecay?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
}

export interface TrainValue {
  readonly name: string;
  /** f32 per item. */
  readonly perBatch: number;
  /** Another value whose buffer this one is (a view: flatten, reshape). */
  readonly alias?: string;
  /**
   * What it holds: a forward value of a step (or a kernel's scratch), a gradient (which the
   * backward kernels accumulate into: zeroed by a dispatch just before its first use in a
   * step), or a value of prediction.
   */
  readonly arena: "act" | "grad" | "predict";
  /**
   * Where it lives in the one arena, f32 elements per item (a multiple of 64: 256-byte
   * aligned at every batch size). Values share memory when their lifetimes in a step (or in
   * a prediction) do not overlap; a view shares its root's.
   */
  readonly offset: number;
}

export const bufferRoles = [
  "weight",
  "grad",
  "slot",
  "state",
  "hyper",
  "sums",
  "const",
  "pack",
] as const;

export interface TrainBuffer {
  readonly name: string;
  /** f32 elements. */
  readonly size: number;
  /**
   * What it holds: a weight of the network (trained, or running statistics), a weight's
   * gradient (cleared each step), optimiser state, a layer's own state, the hyperparameters,
   * the loss sums, a constant (tables of a backward kernel), a pack of others.
   */
  readonly role: (typeof bufferRoles)[number];
  /** A constant's values, uploaded at load. */
  readonly init?: Float32Array;
  /**
   * A range of a pack (role "pack": the trained weights, their gradients or an optimiser
   * slot, each tensor at a multiple of 64 elements) rather than a buffer of its own.
   */
  readonly within?: { readonly buffer: string; readonly offset: number };
}

export interface TrainDispatch {
  readonly label: string;
  readonly kernel: number;
  readonly bindings: readonly Binding[];
  readonly grid: Grid;
  /** Sizes its kernel reads from the uniform after the batch (a shape family's shader). */
  readonly params?: readonly number[];
}

export interface TrainPlan {
  readonly network: string;
  readonly input: { readonly name: string; readonly shape: readonly number[] };
  readonly classes: number;
  readonly logits: string;
  /** The value the labels are written to (one f32 per item). */
  readonly labels: string;
  readonly values: readonly TrainValue[];
  /** The arena's size, f32 elements per item. */
  readonly arena: number;
  /**
   * Prediction's own values (inference mode: no gradients, nothing kept), planned apart and
   * laid over the same arena: where `predict` reads its input and leaves the scores.
   */
  readonly predictInput: string;
  readonly predictLogits: string;
  readonly buffers: readonly TrainBuffer[];
  /** Trained weights: their gradient buffer and optimiser slots. */
  readonly params: readonly {
    readonly name: string;
    readonly grad: string;
    readonly slots: readonly string[];
  }[];
  readonly kernels: readonly string[];
  readonly forward: readonly TrainDispatch[];
  readonly loss: readonly TrainDispatch[];
  readonly backward: readonly TrainDispatch[];
  readonly update: readonly TrainDispatch[];
  readonly predict: readonly TrainDispatch[];
  readonly hyper: string;
  readonly sums: string;
}

/** A buffer's place in the blob: the initial weights and the constants. */
export interface BlobRange {
  readonly offset: number;
  readonly bytes: number;
  readonly crc32: number;
}

export interface TrainingManifest extends Omit<TrainPlan, "buffers"> {
  readonly kind: "training";
  readonly optimizer: OptimizerConfig;
  readonly buffers: readonly (Omit<TrainBuffer, "init"> & { readonly data?: BlobRange })[];
  readonly blobBytes: number;
}

export const dispatchLists = ["forward", "loss", "backward", "update", "predict"] as const;

function finite(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v))
    fail("manifest-schema", `${what} must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

function optimizer(v: unknown): OptimizerConfig {
  if (!isRecord(v)) fail("manifest-schema", "optimizer must be an object");
  const kind = str(v.kind, "optimizer.kind");
  if (!optimizerKinds.includes(kind as OptimizerKind))
    fail("manifest-schema", `optimizer.kind '${kind}' is not one of ${optimizerKinds.join(", ")}`);
  const numbers = ["momentum", "weightDecay", "beta1", "beta2", "eps"] as const;
  const out: Record<string, number | boolean | string> = { kind, lr: finite(v.lr, "optimizer.lr") };
  for (const k of numbers) if (v[k] !== undefined) out[k] = finite(v[k], `optimizer.${k}`);
  if (v.nesterov !== undefined) {
    if (typeof v.nesterov !== "boolean") fail("manifest-schema", "optimizer.nesterov is a boolean");
    out.nesterov = v.nesterov;
  }
  return out as unknown as OptimizerConfig;
}

/** Checks a training manifest against the format and against the blob it describes. */
export function validateTrainingManifest(raw: unknown, blobBytes: number): TrainingManifest {
  if (!isRecord(raw) || raw.kind !== "training")
    fail("bundle-kind", "not a training bundle (cnnc build --train writes them)");
  const network = str(raw.network, "network");
  const arena = count(raw.arena, "arena", 1);
  if (arena > maxElements) fail("tensor-size", `the arena of ${arena} elements is absurdly large`);
  const values = arr(raw.values, "values").map((v, i): TrainValue => {
    const placed = placedValue(v, i, arena);
    const kind = (v as { arena?: unknown }).arena;
    if (kind !== "act" && kind !== "grad" && kind !== "predict")
      fail("manifest-schema", `values[${i}].arena must be "act", "grad" or "predict"`);
    return { ...placed, arena: kind };
  });
  const valueOf = new Map<string, TrainValue>();
  for (const v of values) {
    if (valueOf.has(v.name)) fail("duplicate-name", `value '${v.name}' is listed twice`);
    const root = v.alias === undefined ? undefined : valueOf.get(v.alias);
    if (v.alias !== undefined && !root)
      fail("unknown-reference", `value '${v.name}' aliases unknown '${v.alias}'`);
    if (
      root &&
      (root.perBatch !== v.perBatch || root.arena !== v.arena || root.offset !== v.offset)
    )
      fail(
        "value-range",
        `value '${v.name}' is a view of '${v.alias}' elsewhere or of another size`,
      );
    valueOf.set(v.name, v);
  }
  const declaredBlob = count(raw.blobBytes, "blobBytes");
  if (declaredBlob !== blobBytes)
    fail(
      "truncated",
      `the weights take ${declaredBlob} bytes but the file holds ${blobBytes} after the manifest`,
    );
  const buffers = arr(raw.buffers, "buffers").map((b, i): TrainingManifest["buffers"][number] => {
    if (!isRecord(b)) fail("manifest-schema", `buffers[${i}] must be an object`);
    const name = str(b.name, `buffers[${i}].name`);
    const size = count(b.size, `buffers[${i}].size`, 1);
    if (size > maxElements) fail("tensor-size", `buffer '${name}' is absurdly large`);
    const role = str(b.role, `buffers[${i}].role`) as TrainBuffer["role"];
    if (!bufferRoles.includes(role))
      fail("manifest-schema", `buffer '${name}': unknown role '${role}'`);
    const needsData = role === "weight" || role === "const";
    if (needsData !== (b.data !== undefined))
      fail(
        "weight-range",
        needsData
          ? `${role} '${name}' has no data in the blob`
          : `buffer '${name}' (${role}) starts empty but lists data`,
      );
    let within: Pick<TrainBuffer, "within"> = {};
    if (b.within !== undefined) {
      const w = b.within;
      if (!isRecord(w)) fail("manifest-schema", `buffers[${i}].within must be an object`);
      within = {
        within: {
          buffer: str(w.buffer, `buffers[${i}].within.buffer`),
          offset: count(w.offset, `buffers[${i}].within.offset`),
        },
      };
    }
    if (!needsData) return { name, size, role, ...within };
    const d = b.data;
    if (!isRecord(d)) fail("manifest-schema", `buffers[${i}].data must be an object`);
    const data = {
      offset: count(d.offset, `buffers[${i}].data.offset`),
      bytes: count(d.bytes, `buffers[${i}].data.bytes`),
      crc32: count(d.crc32, `buffers[${i}].data.crc32`),
    };
    if (data.bytes !== size * 4)
      fail("weight-size", `buffer '${name}' has ${data.bytes} bytes for ${size} values`);
    if (data.offset % 4 !== 0 || data.offset + data.bytes > blobBytes)
      fail(
        "weight-range",
        `buffer '${name}' [${data.offset}, ${data.offset + data.bytes}) lies outside the ${blobBytes}-byte blob`,
      );
    return { name, size, role, data, ...within };
  });
  const bufferOf = new Map<string, (typeof buffers)[number]>();
  for (const b of buffers) {
    if (bufferOf.has(b.name) || valueOf.has(b.name))
      fail("duplicate-name", `buffer '${b.name}' is listed twice`);
    bufferOf.set(b.name, b);
  }
  // A range of a pack lies inside it, aligned, and shares no element with another range.
  const members = new Map<string, { name: string; offset: number; size: number }[]>();
  for (const b of buffers) {
    const w = b.within;
    if (!w) continue;
    const pack = bufferOf.get(w.buffer);
    if (!pack || pack.role !== "pack")
      fail("unknown-reference", `buffer '${b.name}' lies in '${w.buffer}', which is not a pack`);
    if (b.role === "pack") fail("manifest-schema", `pack '${b.name}' lies in another`);
    if (w.offset % 64 !== 0 || w.offset + b.size > pack.size)
      fail(
        "value-range",
        `buffer '${b.name}' [${w.offset}, ${w.offset + b.size}) is misaligned or outside its ${pack.size}-element pack`,
      );
    members.set(w.buffer, [
      ...(members.get(w.buffer) ?? []),
      { name: b.name, offset: w.offset, size: b.size },
    ]);
  }
  for (const list of members.values()) {
    list.sort((a, b) => a.offset - b.offset);
    list.forEach((m, k) => {
      const next = list[k + 1];
      if (next && m.offset + m.size > next.offset)
        fail("value-range", `buffers '${m.name}' and '${next.name}' overlap in their pack`);
    });
  }
  const stored = buffers.flatMap((b) => (b.data ? [{ name: b.name, ...b.data }] : []));
  const byOffset = [...stored].sort((a, b) => a.offset - b.offset);
  byOffset.forEach((w, k) => {
    const next = byOffset[k + 1];
    if (next && w.offset + w.bytes > next.offset)
      fail("weight-overlap", `buffers '${w.name}' and '${next.name}' overlap in the blob`);
  });
  const buffer = (name: string, role: TrainBuffer["role"], size?: number) => {
    const b = bufferOf.get(name);
    if (!b || b.role !== role)
      fail("unknown-reference", `'${name}' is not a ${role} buffer of the bundle`);
    if (size !== undefined && b.size !== size)
      fail("weight-size", `buffer '${name}' holds ${b.size} values, not ${size}`);
    return name;
  };
  const value = (name: string, perBatch?: number) => {
    const v = valueOf.get(name);
    if (!v) fail("unknown-reference", `value '${name}' is not in the bundle`);
    if (perBatch !== undefined && v.perBatch !== perBatch)
      fail(
        "shape-mismatch",
        `value '${name}' holds ${v.perBatch} values per item, not ${perBatch}`,
      );
    return name;
  };
  if (!isRecord(raw.input)) fail("manifest-schema", "input must be an object");
  const inputShape = shape(raw.input.shape, "input.shape");
  const input = {
    name: value(
      str(raw.input.name, "input.name"),
      inputShape.reduce((a, b) => a * b, 1),
    ),
    shape: inputShape,
  };
  const classes = count(raw.classes, "classes", 2);
  const params = arr(raw.params, "params").map((p, i) => {
    if (!isRecord(p)) fail("manifest-schema", `params[${i}] must be an object`);
    const name = buffer(str(p.name, `params[${i}].name`), "weight");
    const size = bufferOf.get(name)!.size;
    return {
      name,
      grad: buffer(str(p.grad, `params[${i}].grad`), "grad", size),
      slots: arr(p.slots, `params[${i}].slots`).map((s, j) =>
        buffer(str(s, `params[${i}].slots[${j}]`), "slot", size),
      ),
    };
  });
  const opt = optimizer(raw.optimizer);
  const slots = opt.kind === "sgd" ? 1 : 2;
  for (const p of params)
    if (p.slots.length !== slots)
      fail(
        "manifest-schema",
        `weight '${p.name}' has ${p.slots.length} optimiser slots; ${opt.kind} keeps ${slots}`,
      );
  const kernels = arr(raw.kernels, "kernels").map((k, i) => str(k, `kernels[${i}]`));
  const lists = Object.fromEntries(
    dispatchLists.map((l) => [
      l,
      dispatchList(
        raw[l],
        l,
        kernels,
        (v) => valueOf.has(v),
        (w) => bufferOf.has(w),
      ),
    ]),
  ) as Record<(typeof dispatchLists)[number], TrainDispatch[]>;
  return {
    kind: "training",
    network,
    input,
    classes,
    logits: value(str(raw.logits, "logits"), classes),
    labels: value(str(raw.labels, "labels"), 1),
    values,
    arena,
    predictInput: value(
      str(raw.predictInput, "predictInput"),
      input.shape.reduce((a, b) => a * b, 1),
    ),
    predictLogits: value(str(raw.predictLogits, "predictLogits"), classes),
    buffers,
    params,
    kernels,
    ...lists,
    hyper: buffer(str(raw.hyper, "hyper"), "hyper", hyperSize),
    sums: buffer(str(raw.sums, "sums"), "sums", 4),
    optimizer: opt,
    blobBytes,
  };
}

export interface ParsedTrainingBundle {
  /** The plan, its constants' values read from the blob. */
  readonly plan: TrainPlan;
  readonly optimizer: OptimizerConfig;
  /** The initial weights, by name. */
  readonly weights: Map<string, Float32Array>;
}

/** Reads and checks a whole training bundle: header, manifest, blob and every checksum. */
export function parseTrainingBundle(bytes: Uint8Array): ParsedTrainingBundle {
  const { raw, blob } = readContainer(bytes);
  if (bundleKind(raw) !== "training")
    fail(
      "bundle-kind",
      "this bundle runs a network (loadModel reads it); cnnc build --train writes one that trains",
    );
  const m = validateTrainingManifest(raw, blob.length);
  const stored = m.buffers.flatMap((b) => (b.data ? [{ name: b.name, ...b.data }] : []));
  checkTensors(blob, stored);
  // (copies, aligned: a Node Buffer's `slice` would be a view into a shared pool)
  const read = (r: BlobRange) => storedData(r, blob);
  const weights = new Map<string, Float32Array>();
  const buffers = m.buffers.map(({ data, ...b }): TrainBuffer => {
    if (data && b.role === "weight") weights.set(b.name, read(data));
    return data && b.role === "const" ? { ...b, init: read(data) } : b;
  });
  const { kind: _, optimizer: opt, blobBytes: __, ...rest } = m;
  return { plan: { ...rest, buffers }, optimizer: opt, weights };
}
