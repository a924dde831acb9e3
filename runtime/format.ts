// The `.cnnb` bundle format, read here and written by compiler/bundle (which imports this file,
// so that writer and reader share one definition; the runtime imports nothing of the compiler).
//
//   offset 0   "CNNB"                 magic
//          4   u32 LE                 format version
//          8   u32 LE                 manifest length in bytes
//         12   u32 LE                 CRC-32 of the manifest bytes
//         16   manifest               UTF-8 JSON (Manifest below)
//              zero padding to a multiple of 256
//   blobStart  weights                each stored tensor f32 LE at a 256-byte aligned offset
//                                     (f16 LE in a bundle whose weightFormat is "f16")
//
// The blob holds the network's own tensors (`stored` weights, named as in its IR); a kernel that
// reads a weight in another form binds a `derived` weight, which records its source tensor and
// the transform that makes it (runtime/weights.ts computes it at load). So a bundle is
// complete: `cnnc run --cpu` on it runs the IR on exactly the tensors the GPU kernels derive from.
//
// Every check the reader makes has a name (BundleError.check), so a corrupt file says which
// rule it broke, and all of them run before anything is allocated on the GPU.

export const magic = "CNNB";
/**
 * 3: a dispatch may carry `params`, the sizes its shape family's shader reads from the uniform
 * (a runtime reading only 2 would bind too small a uniform). Version 2 bundles read as they were.
 * 4: the weights may be stored as f16 (`weightFormat`), which a runtime reading only 3 would read
 * as f32; a bundle without f16 weights is written as version 3, which such runtimes still read.
 */
export const formatVersion = 4;
const readableVersions = [2, 3, 4];

/** The oldest format version that reads `manifest` right: what the writer puts in the header. */
export function versionFor(manifest: { readonly weightFormat?: WeightFormat }): number {
  return manifest.weightFormat === "f16" ? 4 : 3;
}

/**
 * How stored weights are kept in the blob: "f32", or "f16" (half the bytes). A plan's kernels
 * read f16 weights either as halves (the plan's `halfWeights`: buffers of halves packed two to
 * a u32, which they unpack with unpack2x16float) or widened to f32 at load; both compute in f32.
 */
export type WeightFormat = "f32" | "f16";

/** Bytes a stored weight takes per value. */
export const bytesPerWeight = (format: WeightFormat | undefined): number =>
  format === "f16" ? 2 : 4;

/**
 * The array element types a kernel may declare for a weight binding: f32 buffers are read as
 * floats (one or four at a time), buffers of halves as packed u32s (two or four at a time).
 */
export const weightElements: Readonly<Record<WeightFormat, readonly string[]>> = {
  f32: ["f32", "vec4<f32>"],
  f16: ["u32", "vec2<u32>"],
};
export const headerBytes = 16;
export const blobAlignment = 256;

/** ceil((perBatch * batch + fixed) / div) */
export interface Linear {
  readonly perBatch: number;
  readonly fixed: number;
  readonly div: number;
}

export type Grid =
  /** One thread per item: `perBatch * batch` items in groups of `groupSize`, split over x, y. */
  | { readonly kind: "flat"; readonly perBatch: number; readonly groupSize: number }
  | { readonly kind: "tiles"; readonly x: Linear; readonly y: Linear; readonly z: Linear };

export type Binding = { readonly value: string } | { readonly weight: string };

/** A tensor of the network, in the blob. */
export interface StoredWeight {
  readonly name: string;
  readonly shape: readonly number[];
  /** Byte offset from the start of the blob. */
  readonly offset: number;
  readonly bytes: number;
  readonly crc32: number;
}

/**
 * How a derived weight is made from its stored source: Winograd's U = G g G^T ([F, C, 3, 3]
 * -> [16, F, C]); the [F, C, KH, KW] weight permuted to [F, KH, KW, C] for a GEMM over NHWC;
 * a row range [r0, r1) of a weight split for the binding limit.
 */
export type WeightTransform = "winograd" | "hwc" | "rows";

export interface DerivedWeight {
  readonly name: string;
  readonly shape: readonly number[];
  readonly source: string;
  readonly transform: WeightTransform;
  readonly rows?: readonly [number, number];
}

export type ManifestWeight = StoredWeight | DerivedWeight;

export function isDerived(w: ManifestWeight): w is DerivedWeight {
  return "source" in w;
}

/** The shape a transform makes of its source's, or why it cannot. */
export function derivedShape(
  transform: WeightTransform,
  source: readonly number[],
  rows?: readonly [number, number],
): number[] | string {
  if (transform === "rows") {
    if (!rows || !(rows[0] < rows[1] && rows[1] <= (source[0] ?? 0)))
      return `rows ${JSON.stringify(rows)} do not lie within ${source[0]} rows`;
    return [rows[1] - rows[0], ...source.slice(1)];
  }
  if (source.length !== 4) return `a ${transform} transform takes a 4-D weight`;
  const [f, c, kh, kw] = source as [number, number, number, number];
  if (transform === "hwc") return [f, kh, kw, c];
  if (kh !== 3 || kw !== 3) return "a winograd transform takes a 3x3 weight";
  return [16, f, c];
}

export interface Manifest {
  readonly network: string;
  readonly inputs: readonly { readonly name: string; readonly shape: readonly number[] }[];
  readonly outputs: readonly {
    readonly name: string;
    readonly value: string;
    readonly shape: readonly number[];
  }[];
  /** Activations: each a range of the arena, in f32 elements per batch item. */
  readonly values: readonly {
    readonly name: string;
    readonly perBatch: number;
    readonly offset: number;
    readonly alias?: string;
  }[];
  /** The activation arena's size, f32 elements per batch item. */
  readonly arena: number;
  readonly weights: readonly ManifestWeight[];
  readonly kernels: readonly string[];
  /**
   * Kernels written again with subgroup operations, by index into `kernels`: the runtime
   * compiles these instead on a device with WebGPU's `subgroups` feature. Each declares the
   * same bindings as the kernel it stands for and runs on the same grid.
   */
  readonly subgroupKernels?: Readonly<Record<string, string>>;
  readonly dispatches: readonly {
    readonly label: string;
    readonly kernel: number;
    readonly bindings: readonly Binding[];
    readonly grid: Grid;
    /** Sizes its kernel reads from the uniform after the batch (a shape family's shader). */
    readonly params?: readonly number[];
  }[];
  readonly blobBytes: number;
  /** How the stored weights are kept; "f32" where absent. */
  readonly weightFormat?: "f16";
  /**
   * The kernels read the weights as halves packed two to a u32 (the runtime uploads them so);
   * where absent, as f32. Only with f16 weights. Each plan (variants, quick starts) says it of
   * its own kernels: cnnc gives a GPU's plan halves, CPU emulations' f32 (unpacking cost them
   * more time than the halved memory traffic saved).
   */
  readonly halfWeights?: true;
  /** The network's IR as text, for inspection and for running on the CPU reference. */
  readonly ir?: string;
  /** `cnnc tune`'s choices: the adapter it measured on, and the GEMM tiles per layer. */
  readonly tuning?: { readonly adapter: string; readonly layers: Readonly<Record<string, string>> };
  /**
   * Kernels for another class of adapter (`cnnc build --target any`: those of CPU emulations
   * beside a GPU's), which the runtime takes on such an adapter: their own activation layout,
   * derived weights (from the stored ones above), kernels and dispatches.
   */
  readonly variants?: Readonly<Partial<Record<AdapterClass, ManifestVariant>>>;
  /**
   * A quick start by class of adapter: a plan of kernels quick to compile (`cnnc build` adds
   * one for CPU emulations where it saves most of the compiling), which the runtime runs for
   * the first results while the class's own kernels compile, then puts aside.
   */
  readonly quick?: Readonly<Partial<Record<AdapterClass, ManifestVariant>>>;
}

/** A GPU, or a CPU emulation of WebGPU (llvmpipe, SwiftShader, WARP...). */
export type AdapterClass = "gpu" | "cpu";

export interface ManifestVariant {
  readonly values: Manifest["values"];
  readonly arena: number;
  readonly weights: readonly DerivedWeight[];
  readonly kernels: readonly string[];
  readonly subgroupKernels?: Manifest["subgroupKernels"];
  readonly dispatches: Manifest["dispatches"];
  readonly halfWeights?: true;
}

/**
 * The class of the adapter described: a CPU emulation when it says it is a fallback adapter or
 * names a software rasteriser (Mesa's llvmpipe, lavapipe and softpipe, SwiftShader, WARP).
 */
export function adapterClass(info: GPUAdapterInfo | undefined): AdapterClass {
  if (!info) return "gpu";
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const words = [info.vendor, info.architecture, info.device, info.description].join(" ");
  return fallback || /llvmpipe|lavapipe|softpipe|swiftshader|\bwarp\b|basic render/i.test(words)
    ? "cpu"
    : "gpu";
}

/** What a device offers that a bundle's kernels may use: its WebGPU features. */
export type DeviceFeatures = ReadonlySet<string>;

/**
 * The manifest as an adapter of class `cls` runs it: a variant's values, weights, kernels and
 * dispatches where the bundle has one for the class, the bundle's own otherwise; on a device
 * with `subgroups` among its `features`, each kernel's subgroup form where it has one.
 */
export function manifestFor(
  manifest: Manifest,
  cls: AdapterClass,
  features: DeviceFeatures = new Set(),
): Manifest {
  return withPlan(manifest, manifest.variants?.[cls], features);
}

/** The size of a plan's shaders: on a CPU emulation, what its compile time goes with. */
export function wgslBytes(kernels: readonly string[]): number {
  return kernels.reduce((n, k) => n + k.length, 0);
}

/** The manifest as its quick start for class `cls` runs it; undefined where it has none. */
export function quickManifestFor(
  manifest: Manifest,
  cls: AdapterClass,
  features: DeviceFeatures = new Set(),
): Manifest | undefined {
  const q = manifest.quick?.[cls];
  return q && withPlan(manifest, q, features);
}

/**
 * The manifest with a variant's parts in place of its own, and no other plans; its kernels
 * those the device runs (their subgroup forms where it has the feature), and no other forms.
 */
function withPlan(
  manifest: Manifest,
  v: ManifestVariant | undefined,
  features: DeviceFeatures,
): Manifest {
  const { variants: _, quick: __, subgroupKernels: ___, halfWeights: half, ...rest } = manifest;
  const plan = v ?? manifest;
  const sub = features.has("subgroups") ? (plan.subgroupKernels ?? {}) : {};
  const kernels = plan.kernels.map((k, i) => sub[i] ?? k);
  if (!v) return { ...rest, kernels, ...(half ? { halfWeights: half } : {}) };
  const stored = manifest.weights.filter((w) => !isDerived(w));
  return {
    ...rest,
    ...(v.halfWeights ? { halfWeights: v.halfWeights } : {}),
    values: v.values,
    arena: v.arena,
    weights: [...stored, ...v.weights],
    kernels,
    dispatches: v.dispatches,
  };
}

export class BundleError extends Error {
  constructor(
    readonly check: string,
    message: string,
  ) {
    super(`invalid bundle (${check}): ${message}`);
  }
}

const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zip and PNG use). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export function blobStart(manifestBytes: number): number {
  return alignUp(headerBytes + manifestBytes, blobAlignment);
}

// ---- validation ------------------------------------------------------------------------------

/** Elements a tensor may have: keeps every byte count an exact integer and allocations sane. */
export const maxElements = 2 ** 40;

export function fail(check: string, message: string): never {
  throw new BundleError(check, message);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function count(v: unknown, what: string, min = 0): number {
  if (!Number.isSafeInteger(v) || (v as number) < min)
    fail("manifest-schema", `${what} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v as number;
}

/** A value a kernel's uniform holds as a u32. */
function u32(v: unknown, what: string): number {
  const n = count(v, what);
  if (n > 0xffffffff) fail("manifest-schema", `${what} must fit a u32, got ${n}`);
  return n;
}

export function str(v: unknown, what: string): string {
  if (typeof v !== "string" || v.length === 0)
    fail("manifest-schema", `${what} must be a non-empty string`);
  return v;
}

export function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) fail("manifest-schema", `${what} must be a list`);
  return v;
}

export function shape(v: unknown, what: string): number[] {
  const dims = arr(v, what).map((d, i) => count(d, `${what}[${i}]`, 1));
  if (dims.reduce((a, b) => a * b, 1) > maxElements)
    fail("tensor-size", `${what} ${JSON.stringify(dims)} is absurdly large`);
  return dims;
}

function linear(v: unknown, what: string): Linear {
  if (!isRecord(v)) fail("manifest-schema", `${what} must be an object`);
  return {
    perBatch: count(v.perBatch, `${what}.perBatch`),
    fixed: count(v.fixed, `${what}.fixed`),
    div: count(v.div, `${what}.div`, 1),
  };
}

export function grid(v: unknown, what: string): Grid {
  if (!isRecord(v)) fail("manifest-schema", `${what} must be an object`);
  if (v.kind === "flat") {
    return {
      kind: "flat",
      perBatch: count(v.perBatch, `${what}.perBatch`, 1),
      groupSize: count(v.groupSize, `${what}.groupSize`, 1),
    };
  }
  if (v.kind === "tiles")
    return {
      kind: "tiles",
      x: linear(v.x, `${what}.x`),
      y: linear(v.y, `${what}.y`),
      z: linear(v.z, `${what}.z`),
    };
  return fail("manifest-schema", `${what}.kind must be "flat" or "tiles"`);
}

/** A shader's interface: its uniform's fields and binding declarations, in order. */
function bindingLines(wgsl: string): string[] {
  return wgsl.split("\n").filter((l) => l.startsWith("@group(") || l.startsWith("struct Params"));
}

/**
 * Kernels' subgroup forms (Manifest.subgroupKernels), each checked to stand for a kernel of
 * the list, to enable subgroups, and to declare exactly that kernel's bindings: a dispatch
 * binds the same buffers whichever form the device runs.
 */
function subgroupForms(raw: unknown, kernels: readonly string[]): Record<string, string> {
  if (!isRecord(raw)) fail("manifest-schema", "subgroupKernels must be an object");
  const forms: Record<string, string> = {};
  for (const [key, v] of Object.entries(raw)) {
    const at = `subgroupKernels.${key}`;
    const k = Number(key);
    if (!/^(0|[1-9]\d*)$/.test(key) || k >= kernels.length)
      fail("unknown-reference", `${at} names no kernel (the bundle has ${kernels.length})`);
    const form = str(v, at);
    if (!form.split("\n").includes("enable subgroups;"))
      fail("kernel-form", `${at} does not enable subgroups`);
    const own = bindingLines(kernels[k]!);
    const its = bindingLines(form);
    if (own.length !== its.length || own.some((l, i) => l !== its[i]))
      fail("kernel-form", `${at} does not declare the bindings of kernel ${k}`);
    forms[key] = form;
  }
  return forms;
}

/**
 * A list of dispatches, each checked against the kernels (an index among them, as many
 * bindings as its kernel declares besides the batch uniform) and the names it may bind.
 */
export function dispatchList(
  raw: unknown,
  what: string,
  kernels: readonly string[],
  isValue: (name: string) => boolean,
  isWeight: (name: string) => boolean,
  /** How the kernels read weights: what their weight bindings must declare (absent: unchecked). */
  weightBuffers?: WeightFormat,
): Manifest["dispatches"] {
  return arr(raw, what).map((v, i) => {
    const at = `${what}[${i}]`;
    if (!isRecord(v)) fail("manifest-schema", `${at} must be an object`);
    const kernel = count(v.kernel, `${at}.kernel`);
    if (kernel >= kernels.length)
      fail("unknown-reference", `${at} uses kernel ${kernel} of ${kernels.length}`);
    const bindings = arr(v.bindings, `${at}.bindings`).map((b, j): Binding => {
      if (isRecord(b) && typeof b.value === "string") {
        if (!isValue(b.value)) fail("unknown-reference", `${at} binds unknown value '${b.value}'`);
        return { value: b.value };
      }
      if (isRecord(b) && typeof b.weight === "string") {
        if (!isWeight(b.weight))
          fail("unknown-reference", `${at} binds unknown weight '${b.weight}'`);
        return { weight: b.weight };
      }
      return fail("manifest-schema", `${at}.bindings[${j}] must name a value or a weight`);
    });
    // The uniform holds the batch and as many sizes as the kernel's `Params` declares after it.
    const sizes = uniformSizes(kernels[kernel]!);
    if (sizes === undefined)
      fail("kernel-params", `kernel ${kernel} does not begin with its uniform's struct Params`);
    const params =
      v.params === undefined
        ? []
        : arr(v.params, `${at}.params`).map((p, j) => u32(p, `${at}.params[${j}]`));
    if (params.length !== sizes)
      fail(
        "kernel-params",
        `${at} ('${String(v.label)}') gives ${params.length} sizes; its kernel reads ${sizes} after the batch`,
      );
    // Binding 0 is the batch uniform; the kernel declares one more for each listed binding.
    const declared = (kernels[kernel]!.match(/@binding\(/g) ?? []).length;
    if (declared !== bindings.length + 1)
      fail(
        "binding-count",
        `${at} ('${String(v.label)}') lists ${bindings.length} bindings; its kernel declares ${declared - 1} besides the batch uniform`,
      );
    // A kernel reading f32 from a buffer of packed halves (or the reverse) would compute garbage.
    if (weightBuffers) {
      const types = bindingTypes(kernels[kernel]!);
      bindings.forEach((b, j) => {
        const type = types.get(j + 1);
        if ("weight" in b && !weightElements[weightBuffers].includes(type ?? ""))
          fail(
            "weight-binding",
            `${at} ('${String(v.label)}') binds weight '${b.weight}', in a buffer of ${weightBuffers}, at binding ${j + 1}, which its kernel declares array<${type ?? "?"}>`,
          );
      });
    }
    return {
      label: str(v.label, `${at}.label`),
      kernel,
      bindings,
      grid: grid(v.grid, `${at}.grid`),
      ...(params.length ? { params } : {}),
    };
  });
}

/** A kernel's storage bindings' array element types, by binding number. */
function bindingTypes(wgsl: string): Map<number, string> {
  const types = new Map<number, string>();
  for (const m of wgsl.matchAll(
    /^@group\(0\) @binding\((\d+)\) var<storage, \w+> \w+: array<(.+)>;$/gm,
  ))
    types.set(Number(m[1]), m[2]!);
  return types;
}

/**
 * How many sizes a kernel reads from its uniform after the batch: the fields of the
 * `struct Params { batch: u32, ... }` its first line declares (a shape family's shader has
 * some, compiler/codegen/families.ts); undefined when the first line is not that struct.
 */
export function uniformSizes(wgsl: string): number | undefined {
  const header = wgsl.slice(0, wgsl.indexOf("\n"));
  const m = /^struct Params \{ batch: u32((?:, \w+: u32)*) \}$/.exec(header);
  if (!m) return undefined;
  return m[1] ? m[1].split(",").length - 1 : 0;
}

/** Values[i] of a manifest: a name, its size and its place in the arena (f32 per item). */
export function placedValue(
  v: unknown,
  i: number,
  arena: number,
): { name: string; perBatch: number; offset: number; alias?: string } {
  if (!isRecord(v)) fail("manifest-schema", `values[${i}] must be an object`);
  const perBatch = count(v.perBatch, `values[${i}].perBatch`, 1);
  if (perBatch > maxElements) fail("tensor-size", `values[${i}] is absurdly large`);
  const offset = count(v.offset, `values[${i}].offset`);
  if (offset % 64 !== 0 || offset + perBatch > arena) {
    fail(
      "value-range",
      `value ${i} [${offset}, ${offset + perBatch}) is misaligned or outside the ${arena}-element arena`,
    );
  }
  return {
    name: str(v.name, `values[${i}].name`),
    perBatch,
    offset,
    ...(v.alias === undefined ? {} : { alias: str(v.alias, `values[${i}].alias`) }),
  };
}

/** Checks a parsed manifest against the format and against the blob it describes. */
export function validateManifest(raw: unknown, blobBytes: number): Manifest {
  if (!isRecord(raw)) fail("manifest-schema", "the manifest must be a JSON object");
  const network = str(raw.network, "network");
  const arena = count(raw.arena, "arena", 1);
  if (arena > maxElements) fail("tensor-size", `the arena of ${arena} elements is absurdly large`);
  const values = arr(raw.values, "values").map((v, i) => placedValue(v, i, arena));
  const valueNames = new Set<string>();
  for (const v of values) {
    if (valueNames.has(v.name)) fail("duplicate-name", `value '${v.name}' is listed twice`);
    if (v.alias !== undefined && !valueNames.has(v.alias))
      fail("unknown-reference", `value '${v.name}' aliases unknown '${v.alias}'`);
    valueNames.add(v.name);
  }
  // An input or output is read and written as its value's range: the sizes must agree.
  const perBatchOf = new Map(values.map((v) => [v.name, v.perBatch]));
  const sizeMatches = (what: string, dims: readonly number[], value: string): void => {
    const size = dims.reduce((a, b) => a * b, 1);
    if (perBatchOf.get(value) !== size)
      fail(
        "shape-mismatch",
        `${what} has shape ${JSON.stringify(dims)} (${size} values) but its value holds ${perBatchOf.get(value)}`,
      );
  };
  const inputs = arr(raw.inputs, "inputs").map((v, i) => {
    if (!isRecord(v)) fail("manifest-schema", `inputs[${i}] must be an object`);
    const name = str(v.name, `inputs[${i}].name`);
    if (!valueNames.has(name)) fail("unknown-reference", `input '${name}' has no value`);
    const dims = shape(v.shape, `inputs[${i}].shape`);
    sizeMatches(`input '${name}'`, dims, name);
    return { name, shape: dims };
  });
  const outputs = arr(raw.outputs, "outputs").map((v, i) => {
    if (!isRecord(v)) fail("manifest-schema", `outputs[${i}] must be an object`);
    const value = str(v.value, `outputs[${i}].value`);
    if (!valueNames.has(value))
      fail("unknown-reference", `output ${i} refers to unknown value '${value}'`);
    const name = str(v.name, `outputs[${i}].name`);
    const dims = shape(v.shape, `outputs[${i}].shape`);
    sizeMatches(`output '${name}'`, dims, value);
    return { name, value, shape: dims };
  });
  if (outputs.length === 0) fail("manifest-schema", "the bundle has no output");
  const declaredBlob = count(raw.blobBytes, "blobBytes");
  if (declaredBlob !== blobBytes) {
    fail(
      "truncated",
      `the weights take ${declaredBlob} bytes but the file holds ${blobBytes} after the manifest`,
    );
  }
  let weightFormat: WeightFormat = "f32";
  if (raw.weightFormat !== undefined) {
    if (raw.weightFormat !== "f16")
      fail(
        "manifest-schema",
        `weightFormat must be "f16" where present, not ${JSON.stringify(raw.weightFormat)}`,
      );
    weightFormat = "f16";
  }
  if (raw.halfWeights !== undefined && (raw.halfWeights !== true || weightFormat !== "f16"))
    fail("manifest-schema", "halfWeights must be true where present, and only with f16 weights");
  const halfWeights = raw.halfWeights === true;
  const weightNames = new Set<string>();
  const weights = arr(raw.weights, "weights").map((v, i): ManifestWeight => {
    if (!isRecord(v)) fail("manifest-schema", `weights[${i}] must be an object`);
    const name = str(v.name, `weights[${i}].name`);
    if (weightNames.has(name)) fail("duplicate-name", `weight '${name}' is listed twice`);
    weightNames.add(name);
    const dims = shape(v.shape, `weights[${i}].shape`);
    if (v.source !== undefined) {
      const transform = str(v.transform, `weights[${i}].transform`);
      if (transform !== "winograd" && transform !== "hwc" && transform !== "rows")
        fail("manifest-schema", `weight '${name}': unknown transform '${transform}'`);
      const rows =
        v.rows === undefined
          ? {}
          : {
              rows: arr(v.rows, `weights[${i}].rows`).map((r, j) =>
                count(r, `weights[${i}].rows[${j}]`),
              ) as unknown as readonly [number, number],
            };
      return {
        name,
        shape: dims,
        source: str(v.source, `weights[${i}].source`),
        transform,
        ...rows,
      };
    }
    const offset = count(v.offset, `weights[${i}].offset`);
    const bytes = count(v.bytes, `weights[${i}].bytes`);
    if (bytes !== dims.reduce((a, b) => a * b, 1) * bytesPerWeight(weightFormat))
      fail(
        "weight-size",
        `weight '${name}' has ${bytes} bytes for shape ${JSON.stringify(dims)} of ${weightFormat}`,
      );
    if (offset % 4 !== 0 || offset + bytes > blobBytes)
      fail(
        "weight-range",
        `weight '${name}' [${offset}, ${offset + bytes}) lies outside the ${blobBytes}-byte blob`,
      );
    return { name, shape: dims, offset, bytes, crc32: count(v.crc32, `weights[${i}].crc32`) };
  });
  // Stored weights may not overlap: every byte of the blob belongs to one tensor at most.
  const stored = weights.filter((w): w is StoredWeight => !isDerived(w));
  const byOffset = [...stored].sort((a, b) => a.offset - b.offset);
  byOffset.forEach((w, k) => {
    const next = byOffset[k + 1];
    if (next && w.offset + w.bytes > next.offset)
      fail("weight-overlap", `weights '${w.name}' and '${next.name}' overlap in the blob`);
  });
  const storedByName = new Map(stored.map((w) => [w.name, w]));
  for (const w of weights) {
    if (!isDerived(w)) continue;
    const source = storedByName.get(w.source);
    if (!source)
      fail(
        "weight-derivation",
        `weight '${w.name}' derives from '${w.source}', which the bundle does not store`,
      );
    const want = derivedShape(w.transform, source.shape, w.rows);
    if (typeof want === "string") fail("weight-derivation", `weight '${w.name}': ${want}`);
    if (want.length !== w.shape.length || want.some((d, k) => d !== w.shape[k]))
      fail(
        "weight-derivation",
        `weight '${w.name}' is ${JSON.stringify(w.shape)}; ${w.transform} of '${w.source}' ${JSON.stringify(source.shape)} is ${JSON.stringify(want)}`,
      );
  }
  const kernels = arr(raw.kernels, "kernels").map((k, i) => str(k, `kernels[${i}]`));
  const subgroupKernels =
    raw.subgroupKernels === undefined
      ? {}
      : { subgroupKernels: subgroupForms(raw.subgroupKernels, kernels) };
  const dispatches = dispatchList(
    raw.dispatches,
    "dispatches",
    kernels,
    (v) => valueNames.has(v),
    (w) => weightNames.has(w),
    halfWeights ? "f16" : "f32",
  );
  const ir = raw.ir === undefined ? {} : { ir: str(raw.ir, "ir") };
  let tuning = {};
  if (raw.tuning !== undefined) {
    const t = raw.tuning;
    if (!isRecord(t) || !isRecord(t.layers)) fail("manifest-schema", "tuning must be an object");
    const layers = Object.fromEntries(
      Object.entries(t.layers).map(([k, v]) => [k, str(v, `tuning.layers.${k}`)]),
    );
    tuning = { tuning: { adapter: str(t.adapter, "tuning.adapter"), layers } };
  }
  // Plans for other classes of adapter, and quick starts: each checked as the manifest it
  // stands for, the stored weights with its own parts.
  const plansBy = (
    field: "variants" | "quick",
  ): Partial<Record<AdapterClass, ManifestVariant>> | undefined => {
    const given = raw[field];
    if (given === undefined) return undefined;
    if (!isRecord(given)) fail("manifest-schema", `${field} must be an object`);
    const storedRaw = arr(raw.weights, "weights").filter(
      (w) => isRecord(w) && w.source === undefined,
    );
    const parsed: Partial<Record<AdapterClass, ManifestVariant>> = {};
    for (const [cls, v] of Object.entries(given)) {
      if (cls !== "gpu" && cls !== "cpu")
        fail("manifest-schema", `${field}.${cls}: the classes are gpu and cpu`);
      if (!isRecord(v)) fail("manifest-schema", `${field}.${cls} must be an object`);
      const own = arr(v.weights, `${field}.${cls}.weights`);
      if (own.some((w) => !isRecord(w) || w.source === undefined))
        fail("manifest-schema", `${field}.${cls}.weights may list derived weights only`);
      const m = validateManifest(
        {
          ...raw,
          values: v.values,
          arena: v.arena,
          weights: [...storedRaw, ...own],
          kernels: v.kernels,
          subgroupKernels: v.subgroupKernels,
          dispatches: v.dispatches,
          halfWeights: v.halfWeights,
          variants: undefined,
          quick: undefined,
        },
        blobBytes,
      );
      parsed[cls] = {
        values: m.values,
        arena: m.arena,
        weights: m.weights.filter(isDerived),
        kernels: m.kernels,
        ...(m.subgroupKernels ? { subgroupKernels: m.subgroupKernels } : {}),
        dispatches: m.dispatches,
        ...(m.halfWeights ? { halfWeights: m.halfWeights } : {}),
      };
    }
    return parsed;
  };
  const variants = plansBy("variants");
  const quick = plansBy("quick");
  // A quick start shares its class's weight buffers: they must read them alike.
  for (const [cls, q] of Object.entries(quick ?? {})) {
    const own = variants?.[cls as AdapterClass] ?? { halfWeights };
    if (!!q.halfWeights !== !!own.halfWeights)
      fail(
        "weight-binding",
        `quick.${cls} reads the weights ${q.halfWeights ? "as halves" : "as f32"}, its class's own kernels ${own.halfWeights ? "as halves" : "as f32"}; they share the buffers`,
      );
  }
  return {
    network,
    inputs,
    outputs,
    values,
    arena,
    weights,
    kernels,
    ...subgroupKernels,
    dispatches,
    blobBytes,
    ...(weightFormat === "f16" ? { weightFormat } : {}),
    ...(halfWeights ? { halfWeights: true as const } : {}),
    ...ir,
    ...tuning,
    ...(variants ? { variants } : {}),
    ...(quick ? { quick } : {}),
  };
}

export interface ParsedBundle {
  readonly manifest: Manifest;
  /** The weight bytes, starting at the blob. */
  readonly blob: Uint8Array;
}

/**
 * The container every bundle shares: header, the manifest's checksum and JSON, and the blob
 * after it (its contents are the manifest's to describe).
 */
export function readContainer(bytes: Uint8Array): { raw: unknown; blob: Uint8Array } {
  if (bytes.length < headerBytes)
    fail(
      "truncated",
      `the file has ${bytes.length} bytes, fewer than the ${headerBytes}-byte header`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const head = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (head !== magic)
    fail("magic", `not a cnnc bundle (starts with ${JSON.stringify(head)}, expected "${magic}")`);
  const version = view.getUint32(4, true);
  if (!readableVersions.includes(version))
    fail(
      "version",
      `format version ${version}; this runtime reads versions ${readableVersions.slice(0, -1).join(", ")} and ${readableVersions.at(-1)}`,
    );
  const manifestBytes = view.getUint32(8, true);
  if (headerBytes + manifestBytes > bytes.length) {
    fail(
      "truncated",
      `the manifest needs ${manifestBytes} bytes but the file ends after ${bytes.length - headerBytes}`,
    );
  }
  const manifestData = bytes.subarray(headerBytes, headerBytes + manifestBytes);
  if (crc32(manifestData) !== view.getUint32(12, true))
    fail("manifest-checksum", "the manifest does not match its checksum");
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(manifestData));
  } catch {
    fail("manifest-json", "the manifest is not valid UTF-8 JSON");
  }
  const start = blobStart(manifestBytes);
  if (start > bytes.length) fail("truncated", "the file ends before its weights");
  return { raw, blob: bytes.subarray(start) };
}

/** Every tensor of the blob against its checksum. */
export function checkTensors(
  blob: Uint8Array,
  tensors: readonly { name: string; offset: number; bytes: number; crc32: number }[],
): void {
  for (const w of tensors)
    if (crc32(blob.subarray(w.offset, w.offset + w.bytes)) !== w.crc32)
      fail("weight-checksum", `weight '${w.name}' does not match its checksum`);
}

/** What kind of bundle a manifest describes: a network to run, or one to train. */
export function bundleKind(raw: unknown): "inference" | "training" {
  return isRecord(raw) && raw.kind === "training" ? "training" : "inference";
}

/** Reads and checks a whole bundle: header, manifest, blob size and every weight checksum. */
export function parseBundle(bytes: Uint8Array): ParsedBundle {
  const { raw, blob } = readContainer(bytes);
  if (bundleKind(raw) === "training")
    fail(
      "bundle-kind",
      "this is a training bundle (cnnc build --train): loadTrainer reads it; build without --train for one that runs",
    );
  const manifest = validateManifest(raw, blob.length);
  checkTensors(
    blob,
    manifest.weights.filter((w): w is StoredWeight => !isDerived(w)),
  );
  return { manifest, blob };
}

/** The hyperparameters a training step writes (runtime/trainer.ts) for its kernels
 * (compiler/train/kernels.ts): their indices in the `hyper` buffer. */
export const hyper = {
  lr: 0,
  momentum: 1,
  decay: 2,
  beta1: 3,
  beta2: 4,
  eps: 5,
  /** 1 - beta1^t and 1 - beta2^t: Adam's bias corrections at step t. */
  c1: 6,
  c2: 7,
  /** 1 on the first step (SGD's momentum buffer starts at the gradient). */
  first: 8,
  /** The step's dropout seed (an integer below 2^24). */
  seed: 9,
} as const;
export const hyperSize = 10;
