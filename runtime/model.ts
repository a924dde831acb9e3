/// <reference types="@webgpu/types" preserve="true" />
// A loaded model: the bundle validated, weights uploaded, pipelines compiled once (async), and
// per batch size the activation buffers and bind groups, made on first use and kept for the
// last few batch sizes used (`batchSizesKept`). An
// inference writes the inputs, records every dispatch in one command encoder, and reads the
// outputs back once. Inputs may already be on the GPU (copied there, not uploaded), and
// `encode` records an inference into the caller's own encoder, GPU buffers in and out.
import { weightData } from "./weights.js";
import { packHalves } from "./half.js";
import {
  adapterClass,
  manifestFor,
  parseBundle,
  quickManifestFor,
  type Manifest,
  type WeightFormat,
} from "./format.js";
import { batchProblem, boundWeights, fixedProblems, workgroups } from "./limits.js";
import type { Tensor } from "./tensor.js";
import { dispatchUniforms } from "./uniforms.js";

export class RuntimeError extends Error {}

function batchOf(options: RunOptions): number {
  if (typeof options !== "object" || options === null)
    throw new RuntimeError(
      `options must be an object such as { batch: 2 }, got ${kindOf(options)}`,
    );
  const batch = options.batch ?? 1;
  if (!Number.isSafeInteger(batch) || batch < 1)
    throw new RuntimeError(`batch must be a positive integer, got ${batch}`);
  return batch;
}

export interface RunOptions {
  /**
   * Batch size; inputs hold `batch` samples, NCHW. Defaults to the first dimension of the
   * inputs given as tensors, else 1.
   */
  readonly batch?: number;
}

/**
 * An input's values, NCHW float32: a tensor (its shape checked against the model's), an array
 * on the CPU (uploaded), or a GPU buffer of the model's device holding them from byte 0 (usage
 * COPY_SRC; copied on the device, no upload).
 */
export type InputData = Tensor | Float32Array | GPUBuffer;

/** A Tensor (`data` and `shape`), told from an array and a GPU buffer, which have neither. */
function isTensor(v: unknown): v is Tensor {
  return typeof v === "object" && v !== null && "data" in v && "shape" in v;
}

/**
 * The batch the tensors among the inputs give, when they agree on a positive integer; else
 * undefined (batch 1, and the shape check then says what is wrong).
 */
function tensorBatch(given: Readonly<Record<string, InputData>>): number | undefined {
  const batches = new Set(
    Object.values(given)
      .filter(isTensor)
      .map((t) => (Array.isArray(t.shape) ? (t.shape[0] as unknown) : undefined)),
  );
  const [only] = batches;
  return batches.size === 1 && Number.isSafeInteger(only) && (only as number) >= 1
    ? (only as number)
    : undefined;
}

export interface ModelInfo {
  readonly network: string;
  readonly inputs: Manifest["inputs"];
  readonly outputs: readonly { readonly name: string; readonly shape: readonly number[] }[];
  readonly dispatches: number;
  readonly kernels: number;
  /** Of those, how many run in their subgroup form (the device has WebGPU's `subgroups`). */
  readonly subgroupKernels: number;
  /**
   * Running the bundle's quick start (kernels quick to compile) while its own kernels compile
   * in the background; `Model.ready` resolves once they run.
   */
  readonly quickStart: boolean;
  /**
   * Weights that are NaN or infinite, by name, with their count: a GPU's max(), clamp() and
   * comparisons turn NaN into confident-looking numbers, so results mean nothing when any is.
   */
  readonly nonFiniteWeights: Readonly<Record<string, number>>;
}

/** What a value is, in words for an error: `null`, `string`, `Float64Array`. */
function kindOf(v: unknown): string {
  if (v === null || typeof v !== "object") return v === null ? "null" : typeof v;
  return (v as object).constructor?.name ?? "object";
}

/** Inputs or outputs by name: a plain object, nothing else. */
function checkNamed(given: unknown, what: string): void {
  if (typeof given !== "object" || given === null || Array.isArray(given))
    throw new RuntimeError(
      `${what} must be an object by name, such as { x: data }, got ${kindOf(given)}`,
    );
}

/** The most repeats `measure` records into one submission. */
export const maxRepeats = 10_000;

/** How many values of an array are NaN or infinite. */
export function nonFinite(values: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) n++;
  return n;
}

/**
 * A plan the model runs: the bundle's own for the adapter's class, or its quick start until
 * that is compiled. Each has its kernels, its activation layout, and its buffers per batch.
 */
interface Program {
  readonly manifest: Manifest;
  readonly pipelines: readonly GPUComputePipeline[];
  /** Per batch size, its buffers: made on first use, the last `batchSizesKept` kept. */
  readonly batches: Map<number, BatchState>;
}

interface BatchState {
  readonly program: Program;
  /** Set when the model has put its program aside: destroyed once no run uses it. */
  retired: boolean;
  /** All activations, each a range of this one buffer (see the bundle's memory plan). */
  readonly arena: GPUBuffer;
  /** Each value's byte range in the arena at this batch size. */
  readonly ranges: Map<string, { readonly offset: number; readonly size: number }>;
  readonly params: GPUBuffer;
  readonly bindGroups: GPUBindGroup[];
  /**
   * The buffers of runs in flight, one slot each: a run takes a free slot (or makes one) and
   * gives it back once read, so runs started without awaiting the last one queue up on the
   * GPU instead of colliding on a buffer that is still being mapped.
   */
  readonly freeSlots: Slot[];
  /** Every buffer of every slot, for dispose. */
  readonly slotBuffers: GPUBuffer[];
  /** Runs and measurements using these buffers now: a state in use is never released. */
  busy: number;
  /** Recorded into a caller's encoder by `encode`, which may not be submitted yet. */
  encoded: boolean;
}

/**
 * How many batch sizes keep their buffers: a model run at ever new sizes holds the last few,
 * not one arena per size it has ever seen (300 sizes of a small network held 1.4 GB).
 */
export const batchSizesKept = 4;

/** One run's own buffers. */
interface Slot {
  /**
   * For each input larger than `stagingAbove`, a buffer the run writes the values into while
   * it is mapped, then copies from on the device (smaller inputs go by queue.writeBuffer).
   */
  readonly staging: Map<string, GPUBuffer>;
  readonly readback: Map<string, GPUBuffer>;
  /** Resolves when the staging buffers are mapped for writing again; false if that failed. */
  mapped: Promise<boolean>;
}

/**
 * Inputs larger than this are uploaded through a staging buffer of the model's own, kept
 * mapped between runs, instead of queue.writeBuffer. Dawn stages writes in a 4 MiB ring and
 * makes a new staging buffer for every larger write, each time (MobileNet's input at batch 8
 * is 4.6 MiB). `node scripts/upload-paths.mjs` on SwiftShader (Dawn's Vulkan backend): 4.5 MiB
 * 1.00 ms by writeBuffer vs 0.75 ms staged, 18 MiB 9.0 vs 6.1, but 3.5 MiB 0.40 vs 0.44; so
 * writeBuffer up to the ring's size. On Dawn's OpenGL backend (llvmpipe) writeBuffer is direct
 * and staging costs twice as much at every size (4.5 MiB: 0.22 vs 0.48 ms), a cost small
 * beside the work that follows an input that large; a device does not say its backend.
 */
export const stagingAbove = 4 << 20;

const bytesOf = (shape: readonly number[], batch: number): number =>
  shape.reduce((a, b) => a * b, 1) * batch * 4;

/**
 * The array itself when it views an ArrayBuffer, else a copy: queue.writeBuffer takes no view
 * of a SharedArrayBuffer (a wasm heap, for instance) in every implementation.
 */
function plain<T extends Uint8Array | Float32Array>(a: T): T & { readonly buffer: ArrayBuffer } {
  if (a.buffer instanceof ArrayBuffer) return a as T & { readonly buffer: ArrayBuffer };
  return a.slice() as T & { readonly buffer: ArrayBuffer };
}

/** Checks a caller's GPU buffer: large enough for `bytes`, and with the usage it needs. */
function checkBuffer(
  buffer: GPUBuffer,
  what: string,
  shape: string,
  bytes: number,
  usage: "COPY_SRC" | "COPY_DST",
): void {
  if (typeof buffer !== "object" || buffer === null || typeof buffer.size !== "number") {
    const kind = buffer === null ? "null" : ((buffer as object).constructor?.name ?? typeof buffer);
    const takes = usage === "COPY_SRC" ? "a Tensor, a Float32Array or a GPUBuffer" : "a GPUBuffer";
    throw new RuntimeError(`${what} must be ${takes}, got ${kind}`);
  }
  if (buffer.size < bytes) {
    throw new RuntimeError(
      `${what}: expected shape ${shape} (${bytes} bytes), got a GPU buffer of ${buffer.size} bytes`,
    );
  }
  if (!(buffer.usage & GPUBufferUsage[usage]))
    throw new RuntimeError(`${what}: the GPU buffer needs usage ${usage}`);
}

/**
 * Runs `work` (synchronous: error scopes are a stack per device, and an await inside would
 * let another run's scopes interleave) under validation and out-of-memory error scopes. The
 * promise says what the GPU refused, if anything: WebGPU reports such errors only there (or as
 * a console warning), and a run must never return data computed after one.
 */
function guarded<T>(
  device: GPUDevice,
  work: () => T,
): { result: T; errors: Promise<string | undefined> } {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  let result: T | undefined;
  let thrown: { readonly error: unknown } | undefined;
  try {
    result = work();
  } catch (error) {
    thrown = { error };
  }
  // Both scopes are popped whatever `work` threw.
  const validation = device.popErrorScope();
  const memory = device.popErrorScope();
  const errors = Promise.all([validation, memory]).then(([v, m]) => (v ?? m)?.message);
  if (thrown) {
    errors.catch(() => undefined);
    throw thrown.error;
  }
  return { result: result as T, errors };
}

/** Throws a RuntimeError naming what the GPU refused, if it refused anything. */
async function check(errors: Promise<string | undefined>, what: string): Promise<void> {
  const message = await errors;
  if (message !== undefined) throw new RuntimeError(`the GPU refused ${what}: ${message}`);
}

function destroyState(s: BatchState): void {
  s.arena.destroy();
  for (const b of s.slotBuffers) b.destroy();
  s.params.destroy();
}

/**
 * Uploads weights into storage buffers of their own, added to `into`: as f32, or in a bundle
 * of f16 weights as halves packed two to a u32 (what its kernels declare).
 */
async function upload(
  device: GPUDevice,
  data: ReadonlyMap<string, Float32Array>,
  into: Map<string, GPUBuffer>,
  format: WeightFormat = "f32",
): Promise<void> {
  const done = guarded(device, () => {
    for (const [name, floats] of data) {
      const values = format === "f16" ? packHalves(floats) : floats;
      const buffer = device.createBuffer({
        label: name,
        size: Math.max(values.byteLength, 4),
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(
        buffer,
        0,
        values.buffer as ArrayBuffer,
        values.byteOffset,
        values.byteLength,
      );
      into.set(name, buffer);
    }
  });
  await check(done.errors, "the weights");
}

/**
 * Compiled pipelines by their WGSL, for models on one device that share kernels: a model
 * given one (CreateOptions.pipelines) takes a pipeline from it rather than compiling the same
 * text again, and adds those it compiles. `cnnc tune` keeps one while it measures: a layer's
 * candidate kernel, compiled for one layer, serves every layer with the same text, and the
 * networks it compares at the end reuse what their layers' measuring compiled. On a CPU
 * emulation that compiles at the first dispatch (llvmpipe) the pipeline keeps the machine
 * code too. It holds its pipelines until it is dropped.
 */
export class PipelineCache {
  private readonly byCode = new Map<string, Promise<GPUComputePipeline>>();

  constructor(readonly device: GPUDevice) {}

  /** How many distinct kernels it holds (compiled, or compiling now). */
  get size(): number {
    return this.byCode.size;
  }

  /** The pipeline of `code`: made by `make` unless the cache has it (a failure is not kept). */
  pipeline(code: string, make: () => Promise<GPUComputePipeline>): Promise<GPUComputePipeline> {
    let p = this.byCode.get(code);
    if (!p) {
      p = make();
      this.byCode.set(code, p);
      p.catch(() => this.byCode.delete(code));
    }
    return p;
  }
}

/**
 * A pipeline for each of the manifest's kernels. All at once, or (given `shared`: pipelines
 * already made, by WGSL) one at a time, taking a shared one where the text is the same and
 * calling `between` before each: compiling behind a quick start, where runs go between.
 * `cache`: pipelines other models made (PipelineCache), taken and added to.
 */
async function compileKernels(
  device: GPUDevice,
  manifest: Manifest,
  shared?: ReadonlyMap<string, GPUComputePipeline>,
  onEach?: (layer: string) => void,
  between?: () => void,
  cache?: PipelineCache,
): Promise<GPUComputePipeline[]> {
  const users = manifest.kernels.map((_, k) =>
    manifest.dispatches.filter((d) => d.kernel === k).map((d) => d.label),
  );
  const make = async (code: string, k: number): Promise<GPUComputePipeline> => {
    const label = `${users[k]![0] ?? "unused"} (kernel ${k})`;
    const module = device.createShaderModule({ label, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === "error");
    if (errors.length) {
      throw new RuntimeError(
        `kernel ${k} for ${users[k]!.join(", ")} does not compile: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join("; ")}`,
      );
    }
    try {
      return await device.createComputePipelineAsync({
        label,
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
    } catch (e) {
      throw new RuntimeError(`kernel ${k} for ${users[k]!.join(", ")}: ${(e as Error).message}`);
    }
  };
  const one = async (code: string, k: number): Promise<GPUComputePipeline> => {
    const pipeline = await (cache ? cache.pipeline(code, () => make(code, k)) : make(code, k));
    onEach?.(users[k]![0] ?? "unused");
    return pipeline;
  };
  if (!shared) return Promise.all(manifest.kernels.map(one));
  const pipelines: GPUComputePipeline[] = [];
  for (const [k, code] of manifest.kernels.entries()) {
    between?.();
    pipelines.push(shared.get(code) ?? (await one(code, k)));
  }
  return pipelines;
}

/**
 * How long a model with a quick start waits, with no run in flight, before compiling its own
 * kernels behind it (a first run's end begins that at once).
 */
export const quickStartIdleMs = 1000;

export interface CreateOptions {
  /**
   * Where the bundle carries a quick start for the adapter's class (`cnnc build` adds one for
   * CPU emulations of large networks), run it for the first results and compile the bundle's
   * own kernels in the background (`Model.ready`). Default true; false waits for them.
   */
  readonly quickStart?: boolean;
  /** Pipelines to take where the text is the same, and to add this model's to (same device). */
  readonly pipelines?: PipelineCache;
}

export class Model {
  /** The plan running now: the quick start until the bundle's own kernels are compiled. */
  private program: Program;
  private readonly weights: Map<string, GPUBuffer>;
  private disposed = false;
  /** Set when the device is lost (driver reset, GPU removed, tab in the background too long). */
  private lostInfo: GPUDeviceLostInfo | undefined;
  /** The own kernels compiled and running: see `ready`. */
  private readonly upgraded: Promise<void>;
  /**
   * Lets the compiling behind a quick start begin: once the first run is done (the first
   * result first: compiling beside it would delay it), when `ready` is asked for, or when the
   * model has sat `quickStartIdleMs` with no run in flight.
   */
  private begin: () => void = () => undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Runs not yet returned. */
  private inFlight = 0;

  private constructor(
    readonly device: GPUDevice,
    /** The bundle's plan for the adapter's class, the one `ready` says runs. */
    readonly manifest: Manifest,
    weights: Map<string, GPUBuffer>,
    program: Program,
    /** Whatever must stay referenced while the device lives (Dawn's instance in Node). */
    private readonly keepAlive: unknown,
    private readonly nonFiniteWeights: Readonly<Record<string, number>>,
    /** The own plan's weights, to derive and upload when it is compiled behind a quick start. */
    own?: { readonly data: Map<string, Float32Array>; readonly pipelines?: PipelineCache },
  ) {
    this.weights = weights;
    this.program = program;
    void device.lost.then((info) => {
      this.lostInfo = info;
    });
    if (!own) {
      this.upgraded = Promise.resolve();
      return;
    }
    const gate = new Promise<void>((open) => {
      this.begin = () => {
        clearTimeout(this.idleTimer);
        open();
      };
    });
    this.upgraded = gate.then(() => this.upgrade(own.data, own.pipelines));
    // (awaited or not: a failure is the caller's to hear through `ready`, never unhandled)
    this.upgraded.catch(() => undefined);
    this.idleTimer = setTimeout(() => {
      if (this.inFlight === 0) this.begin(); // (else the run's end begins it)
    }, quickStartIdleMs);
    // (in Node, a timer that keeps no process alive)
    (this.idleTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Resolves once the model runs the bundle's own kernels for its adapter: at once without a
   * quick start, else when they have compiled in the background (asking for it starts that
   * compiling if it has not begun). Rejects if they fail to compile (the quick start keeps
   * running) or the model is disposed first.
   */
  get ready(): Promise<void> {
    this.begin();
    return this.upgraded;
  }

  /** Why the device was lost, once it has been: a page can show this and load the model again. */
  get lost(): string | undefined {
    if (!this.lostInfo) return undefined;
    const why = this.lostInfo.message || this.lostInfo.reason || "unknown reason";
    return `the GPU device was lost (${why}); load the model again to continue`;
  }

  /**
   * Validates the bundle completely, then uploads weights and compiles every kernel;
   * `onCompiled` hears of each pipeline as it is ready (done of total, and its first layer).
   * With a quick start (CreateOptions), those are the quick start's kernels; the bundle's own
   * compile after the model is returned.
   */
  static async create(
    bytes: Uint8Array,
    device: GPUDevice,
    keepAlive?: unknown,
    onCompiled?: (done: number, total: number, layer: string) => void,
    options: CreateOptions = {},
  ): Promise<Model> {
    if (options.pipelines && options.pipelines.device !== device)
      throw new RuntimeError("the pipeline cache given belongs to another device");
    const parsed = parseBundle(bytes);
    // a bundle built for any adapter carries CPU emulations' kernels beside a GPU's
    const cls = adapterClass(device.adapterInfo);
    // a device with subgroups runs kernels' subgroup forms (Manifest.subgroupKernels)
    const features = new Set(device.features);
    const manifest = manifestFor(parsed.manifest, cls, features);
    const quick =
      options.quickStart === false ? undefined : quickManifestFor(parsed.manifest, cls, features);
    const blob = parsed.blob;
    for (const m of [manifest, ...(quick ? [quick] : [])]) {
      const [problem] = fixedProblems(m, device.limits);
      if (problem) throw new RuntimeError(problem);
    }
    const first = quick ?? manifest;
    // Buffers for the weights the kernels bind: stored ones, and derived ones made at load.
    const bound = boundWeights(first);
    const weights = new Map<string, GPUBuffer>();
    const data = weightData(first, blob, (n) => bound.has(n));
    // the own plan's, derived now (every check of the bundle before the model exists)
    const ownBound = boundWeights(manifest);
    const ownData = quick
      ? weightData(manifest, blob, (n) => ownBound.has(n) && !data.has(n))
      : new Map<string, Float32Array>();
    try {
      await upload(device, data, weights, first.halfWeights ? "f16" : "f32");
    } catch (e) {
      for (const b of weights.values()) b.destroy();
      throw e;
    }
    let compiled = 0;
    const pipelines = await compileKernels(
      device,
      first,
      undefined,
      (layer) => onCompiled?.(++compiled, first.kernels.length, layer),
      undefined,
      options.pipelines,
    );
    const bad: Record<string, number> = {};
    for (const values of [data, ownData]) {
      for (const [name, v] of values) {
        const n = nonFinite(v);
        if (n > 0) bad[name] = n;
      }
    }
    const program: Program = { manifest: first, pipelines, batches: new Map() };
    return new Model(
      device,
      manifest,
      weights,
      program,
      keepAlive,
      bad,
      quick
        ? { data: ownData, ...(options.pipelines ? { pipelines: options.pipelines } : {}) }
        : undefined,
    );
  }

  /**
   * Behind a quick start: uploads the own plan's weights, compiles its kernels one at a time
   * (a run started meanwhile waits for one kernel at most), has each run once so that drivers
   * that compile at the first dispatch (llvmpipe) do it now, then runs the own plan from the
   * next run on. The quick start's buffers go when no run uses them.
   */
  private async upgrade(data: Map<string, Float32Array>, cache?: PipelineCache): Promise<void> {
    const device = this.device;
    const quick = this.program;
    const stop = (): void => {
      if (this.disposed)
        throw new RuntimeError("the model was disposed before its kernels compiled");
      if (this.lost) throw new RuntimeError(this.lost);
    };
    stop();
    await upload(device, data, this.weights, this.manifest.halfWeights ? "f16" : "f32");
    const shared = new Map(quick.manifest.kernels.map((code, k) => [code, quick.pipelines[k]!]));
    const pipelines = await compileKernels(device, this.manifest, shared, undefined, stop, cache);
    stop();
    const own: Program = { manifest: this.manifest, pipelines, batches: new Map() };
    // each new kernel run once, on the own plan's buffers at batch 1 (see warm)
    const prepared = guarded(device, () => this.stateOf(own, 1));
    try {
      await this.warm(own, prepared.result, new Set(shared.values()), stop);
      await check(prepared.errors, "the buffers of the compiled kernels");
      stop();
    } catch (e) {
      destroyState(prepared.result);
      throw e;
    }
    this.program = own;
    const quickBound = boundWeights(quick.manifest);
    for (const s of quick.batches.values()) {
      s.retired = true;
      if (s.busy === 0) this.dropState(s);
      else this.retiredInUse++;
    }
    quick.batches.clear();
    const ownBound = boundWeights(this.manifest);
    this.retiredWeights = [...quickBound].filter((n) => !ownBound.has(n));
    this.dropRetiredWeights();
  }

  /**
   * Runs one workgroup of the first dispatch of each kernel not in `done`, one submission
   * each, on the program's buffers `s` (every value is written before it is read in a run: what
   * this leaves in them is overwritten).
   */
  private async warm(
    program: Program,
    s: BatchState,
    done: Set<GPUComputePipeline>,
    stop: () => void,
  ): Promise<void> {
    const device = this.device;
    for (const [k, d] of program.manifest.dispatches.entries()) {
      const pipeline = program.pipelines[d.kernel]!;
      if (done.has(pipeline)) continue;
      done.add(pipeline);
      stop();
      const ran = guarded(device, () => {
        const encoder = device.createCommandEncoder({ label: `compile ${d.label}` });
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, s.bindGroups[k]!);
        pass.dispatchWorkgroups(1);
        pass.end();
        device.queue.submit([encoder.finish()]);
      });
      await device.queue.onSubmittedWorkDone();
      await check(ran.errors, `kernel ${d.kernel} for ${d.label}`);
    }
  }

  /** The quick start's own derived weights, destroyed when its last run is done. */
  private retiredWeights: string[] = [];
  /** Runs and encodes on the quick start's buffers since it was put aside. */
  private retiredInUse = 0;

  /** Destroys a batch state's buffers, or drops them where a caller's encoder holds them. */
  private dropState(s: BatchState): void {
    if (s.encoded)
      this.retiredInUse = Infinity; // (a caller's encoder may still bind its weights)
    else destroyState(s);
  }

  private dropRetiredWeights(): void {
    if (this.retiredInUse > 0 || this.retiredWeights.length === 0) return;
    for (const n of this.retiredWeights) {
      this.weights.get(n)?.destroy();
      this.weights.delete(n);
    }
    this.retiredWeights = [];
  }

  get info(): ModelInfo {
    const m = this.manifest;
    return {
      network: m.network,
      inputs: m.inputs,
      outputs: m.outputs.map((o) => ({ name: o.name, shape: o.shape })),
      dispatches: m.dispatches.length,
      kernels: m.kernels.length,
      subgroupKernels: m.kernels.filter((k) => k.startsWith("enable subgroups;")).length,
      quickStart: this.program.manifest !== m,
      nonFiniteWeights: this.nonFiniteWeights,
    };
  }

  /** The running program's buffers at this batch size (made now if it has none). */
  private state(batch: number): BatchState {
    return this.stateOf(this.program, batch);
  }

  private stateOf(program: Program, batch: number): BatchState {
    const batches = program.batches;
    const cached = batches.get(batch);
    if (cached) {
      // Most recently used last: the map's order is the order of release.
      batches.delete(batch);
      batches.set(batch, cached);
      return cached;
    }
    const device = this.device;
    const manifest = program.manifest;
    const problem = batchProblem(manifest, device.limits, batch);
    if (problem) throw new RuntimeError(`batch ${batch} is too large: ${problem}`);
    const ranges = new Map<string, { offset: number; size: number }>();
    for (const v of manifest.values)
      ranges.set(v.name, { offset: v.offset * batch * 4, size: v.perBatch * batch * 4 });
    const arenaBytes = manifest.arena * batch * 4;
    const arena = device.createBuffer({
      label: `${manifest.network} activations`,
      size: arenaBytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    const uniforms = dispatchUniforms(device, batch, manifest.dispatches);
    const params = uniforms.buffer;
    const bindGroups = manifest.dispatches.map((d, i) => {
      const pipeline = program.pipelines[d.kernel]!;
      return device.createBindGroup({
        label: d.label,
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: uniforms.binding(i) },
          ...d.bindings.map((b, i) => ({
            binding: i + 1,
            resource:
              "value" in b
                ? { buffer: arena, ...ranges.get(b.value)! }
                : { buffer: this.weights.get(b.weight)! },
          })),
        ],
      });
    });
    const state: BatchState = {
      program,
      retired: false,
      arena,
      ranges,
      params,
      bindGroups,
      freeSlots: [],
      slotBuffers: [],
      busy: 0,
      encoded: false,
    };
    batches.set(batch, state);
    this.release(program);
    return state;
  }

  /**
   * Releases the least recently used batch sizes beyond `batchSizesKept` that no run is using.
   * Their buffers are destroyed (work already submitted still completes); those that `encode`
   * recorded into a caller's encoder are only dropped, for the encoder keeps them alive until
   * it is submitted and the garbage collector frees them after.
   */
  private release(program: Program = this.program): void {
    const batches = program.batches;
    const newest = [...batches.keys()].at(-1);
    for (const [batch, s] of batches) {
      if (batches.size <= batchSizesKept) return;
      if (s.busy > 0 || batch === newest) continue;
      batches.delete(batch);
      if (!s.encoded) destroyState(s);
    }
  }

  /** A run is done with its buffers: released, or destroyed if their program was put aside. */
  private doneWith(s: BatchState): void {
    s.busy--;
    if (!s.retired) return this.release();
    if (s.busy > 0) return;
    this.dropState(s);
    this.retiredInUse--;
    this.dropRetiredWeights();
  }

  /** The batch sizes whose buffers are held now, least recently used first. */
  get batchSizesHeld(): number[] {
    return [...this.program.batches.keys()];
  }

  /** Refuses to work on a disposed model or a lost device. */
  private usable(): void {
    if (this.disposed) throw new RuntimeError("the model was disposed");
    if (this.lost) throw new RuntimeError(this.lost);
  }

  /**
   * Checks that `given` names exactly the model's inputs, each with `batch` samples: an array
   * of the right length, or a GPU buffer large enough to copy from.
   */
  private checkInputs(given: Readonly<Record<string, InputData>>, batch: number): void {
    checkNamed(given, "inputs");
    const names = this.manifest.inputs.map((i) => i.name);
    for (const name of Object.keys(given)) {
      if (!names.includes(name))
        throw new RuntimeError(`unknown input '${name}'; the model takes ${names.join(", ")}`);
    }
    for (const i of this.manifest.inputs) {
      const data = given[i.name];
      const shape = `[${[batch, ...i.shape].join(", ")}]`;
      if (!data) throw new RuntimeError(`missing input '${i.name}' ${shape}`);
      const expected = i.shape.reduce((a, b) => a * b, 1) * batch;
      if (isTensor(data)) {
        const want = [batch, ...i.shape];
        const got = Array.isArray(data.shape) ? data.shape : [];
        if (got.length !== want.length || got.some((d, k) => d !== want[k]))
          throw new RuntimeError(
            `input '${i.name}': expected shape ${shape}, got a tensor of shape [${got.join(", ")}]`,
          );
        if (!(data.data instanceof Float32Array) || data.data.length !== expected)
          throw new RuntimeError(
            `input '${i.name}': a tensor of shape ${shape} holds ${expected} float32 values, got ${data.data instanceof Float32Array ? data.data.length : kindOf(data.data)}`,
          );
      } else if (data instanceof Float32Array) {
        if (data.length !== expected) {
          throw new RuntimeError(
            `input '${i.name}': expected shape ${shape} (${expected} values), got ${data.length} values`,
          );
        }
      } else {
        checkBuffer(data, `input '${i.name}'`, shape, expected * 4, "COPY_SRC");
      }
    }
  }

  /**
   * Records one inference's work into `encoder`: each input into the activations (an array
   * written to the queue, or into the slot's mapped staging buffer and copied; a GPU buffer
   * copied), then every dispatch. Writes to the queue land before the encoder's commands.
   * Returns the staging buffers it wrote (unmapped now).
   */
  private recordRun(
    encoder: GPUCommandEncoder,
    s: BatchState,
    batch: number,
    inputs: Readonly<Record<string, Float32Array | GPUBuffer>>,
    slot?: Slot,
  ): GPUBuffer[] {
    const staged: GPUBuffer[] = [];
    for (const i of this.manifest.inputs) {
      let data = inputs[i.name]!;
      const at = s.ranges.get(i.name)!;
      if (data instanceof Float32Array) {
        const staging = slot?.staging.get(i.name);
        if (!staging) {
          this.device.queue.writeBuffer(s.arena, at.offset, plain(data));
          continue;
        }
        new Float32Array(staging.getMappedRange()).set(data);
        staging.unmap();
        staged.push(staging);
        data = staging;
      }
      encoder.copyBufferToBuffer(data, 0, s.arena, at.offset, at.size);
    }
    this.record(encoder, s, batch, 1);
    return staged;
  }

  /**
   * Runs one inference and reads its outputs back, each a tensor of its shape with the batch
   * first. Inputs are NCHW float32 holding `batch` samples, each a tensor, an array or a GPU
   * buffer (see InputData). Runs may overlap: one started
   * before the last resolved queues behind it on the GPU, each with its own readback.
   * Arrays are copied before `run` returns: the caller may refill or reuse them at once.
   */
  async run(
    given: Readonly<Record<string, InputData>>,
    options: RunOptions = {},
  ): Promise<Record<string, Tensor>> {
    this.usable();
    checkNamed(given, "inputs");
    const batch = batchOf(
      typeof options === "object" && options !== null && options.batch === undefined
        ? { batch: tensorBatch(given) ?? 1 }
        : options,
    );
    this.checkInputs(given, batch);
    // Taken now: the upload happens after awaits, and the caller's arrays are theirs again.
    const inputs: Record<string, Float32Array | GPUBuffer> = Object.fromEntries(
      Object.entries(given).map(([k, v]) => [
        k,
        isTensor(v) ? v.data.slice() : v instanceof Float32Array ? v.slice() : v,
      ]),
    );
    const device = this.device;
    // What the GPU refused is awaited once the run is done: awaiting an error scope earlier
    // would wait for the runs queued before this one.
    const prepared = guarded(device, () => this.state(batch));
    const s = prepared.result;
    s.busy++;
    this.inFlight++;
    try {
      return await this.runWith(s, batch, inputs, prepared.errors);
    } finally {
      this.doneWith(s);
      if (--this.inFlight === 0) this.begin();
    }
  }

  /** The rest of `run`, on buffers that stay held until it returns. */
  private async runWith(
    s: BatchState,
    batch: number,
    inputs: Readonly<Record<string, Float32Array | GPUBuffer>>,
    prepared: Promise<string | undefined>,
  ): Promise<Record<string, Tensor>> {
    const device = this.device;
    let slot = s.freeSlots.pop() ?? this.slot(s, batch);
    if (!(await slot.mapped)) slot = this.slot(s, batch); // (its mapping failed: a new one)
    this.usable(); // (the model may have been disposed while this run waited)
    const submitted = guarded(device, () => {
      const encoder = device.createCommandEncoder({ label: this.manifest.network });
      const staged = this.recordRun(encoder, s, batch, inputs, slot);
      for (const o of this.manifest.outputs) {
        const read = slot.readback.get(o.name)!;
        encoder.copyBufferToBuffer(s.arena, s.ranges.get(o.value)!.offset, read, 0, read.size);
      }
      device.queue.submit([encoder.finish()]);
      return staged;
    });
    const staged = submitted.result;
    // Mapped again for the next run as soon as the GPU has copied from them.
    slot.mapped = Promise.all(staged.map((b) => b.mapAsync(GPUMapMode.WRITE)))
      .then(() => true)
      .catch(() => false);
    const out: Record<string, Tensor> = {};
    for (const o of this.manifest.outputs) {
      const read = slot.readback.get(o.name)!;
      try {
        await read.mapAsync(GPUMapMode.READ);
      } catch (e) {
        if (this.disposed) throw new RuntimeError("the model was disposed before its run finished");
        // A device lost mid-run rejects the readback; say so rather than "operation aborted".
        await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 50))]);
        throw new RuntimeError(
          this.lost ?? `reading '${o.name}' back failed: ${(e as Error).message}`,
        );
      }
      out[o.name] = {
        data: new Float32Array(read.getMappedRange().slice(0)),
        shape: [batch, ...o.shape],
      };
      read.unmap();
    }
    s.freeSlots.push(slot);
    await check(prepared, `batch ${batch}'s buffers`);
    await check(submitted.errors, `the run of ${this.manifest.network}`);
    return out;
  }

  /**
   * Records one inference into the caller's command encoder, GPU buffers in and out, and
   * submits nothing: the way to chain the model with other GPU work (a camera frame's
   * preprocessing before it, drawing its result after) with no round trip to the CPU. Each
   * input buffer (usage COPY_SRC) is copied into the model's activations; each output named in
   * `outputs` (usage COPY_DST) receives that output, NCHW float32 from byte 0. Call it outside
   * any pass; inferences recorded one after another in an encoder run in that order.
   */
  encode(
    encoder: GPUCommandEncoder,
    inputs: Readonly<Record<string, GPUBuffer>>,
    outputs: Readonly<Record<string, GPUBuffer>>,
    options: RunOptions = {},
  ): void {
    this.usable();
    const batch = batchOf(options);
    if (typeof encoder?.beginComputePass !== "function")
      throw new RuntimeError(`encode records into a GPUCommandEncoder, got ${kindOf(encoder)}`);
    checkNamed(inputs, "inputs");
    checkNamed(outputs, "outputs");
    for (const [name, data] of Object.entries(inputs)) {
      if (data instanceof Float32Array || isTensor(data))
        throw new RuntimeError(
          `input '${name}': encode takes GPU buffers; run takes tensors and arrays`,
        );
    }
    this.checkInputs(inputs, batch);
    const names = this.manifest.outputs.map((o) => o.name);
    for (const [name, buffer] of Object.entries(outputs)) {
      const o = this.manifest.outputs.find((x) => x.name === name);
      if (!o)
        throw new RuntimeError(`unknown output '${name}'; the model gives ${names.join(", ")}`);
      const shape = `[${[batch, ...o.shape].join(", ")}]`;
      checkBuffer(buffer, `output '${name}'`, shape, bytesOf(o.shape, batch), "COPY_DST");
    }
    const s = this.state(batch);
    s.encoded = true;
    this.recordRun(encoder, s, batch, inputs);
    for (const [name, buffer] of Object.entries(outputs)) {
      const o = this.manifest.outputs.find((x) => x.name === name)!;
      const from = s.ranges.get(o.value)!;
      encoder.copyBufferToBuffer(s.arena, from.offset, buffer, 0, from.size);
    }
  }

  /** The buffers of one run at this batch size, the staging buffers mapped. */
  private slot(s: BatchState, batch: number): Slot {
    const make = (label: string, size: number, usage: number, mapped: boolean): GPUBuffer => {
      const buffer = this.device.createBuffer({ label, size, usage, mappedAtCreation: mapped });
      s.slotBuffers.push(buffer);
      return buffer;
    };
    const write = GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC;
    const read = GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;
    return {
      staging: new Map(
        this.manifest.inputs
          .filter((i) => bytesOf(i.shape, batch) > stagingAbove)
          .map((i) => [i.name, make(`write ${i.name}`, bytesOf(i.shape, batch), write, true)]),
      ),
      readback: new Map(
        this.manifest.outputs.map((o) => [
          o.name,
          make(`read ${o.name}`, bytesOf(o.shape, batch), read, false),
        ]),
      ),
      mapped: Promise.resolve(true),
    };
  }

  /**
   * Milliseconds of GPU work per inference: every dispatch recorded `repeats` times in one
   * submission, timed to its completion and divided by `repeats`. No upload and no readback (the
   * activations hold whatever the last run left), so a fast GPU's kernels are not hidden behind
   * the 0.1-1 ms a round trip costs; what `cnnc tune` compares kernels by.
   */
  async measure(options: RunOptions & { readonly repeats?: number } = {}): Promise<number> {
    this.usable();
    const batch = batchOf(options);
    const repeats = options.repeats ?? 1;
    if (!Number.isSafeInteger(repeats) || repeats < 1 || repeats > maxRepeats)
      throw new RuntimeError(`repeats must be an integer from 1 to ${maxRepeats}, got ${repeats}`);
    await this.ready; // (the model's own kernels, not a quick start's)
    this.usable();
    const prepared = guarded(this.device, () => this.state(batch));
    const s = prepared.result;
    const t0 = performance.now();
    // (Submitted before anything could release the buffers: no need to hold them.)
    const submitted = guarded(this.device, () => {
      const encoder = this.device.createCommandEncoder({ label: `${this.manifest.network} timed` });
      this.record(encoder, s, batch, repeats);
      this.device.queue.submit([encoder.finish()]);
    });
    await this.device.queue.onSubmittedWorkDone();
    const ms = (performance.now() - t0) / repeats;
    await check(prepared.errors, `batch ${batch}'s buffers`);
    await check(submitted.errors, `the timed runs of ${this.manifest.network}`);
    if (this.lost) throw new RuntimeError(this.lost);
    return ms;
  }

  /** Records the network's dispatches `repeats` times in one compute pass. */
  private record(encoder: GPUCommandEncoder, s: BatchState, batch: number, repeats: number): void {
    const pass = encoder.beginComputePass({ label: this.manifest.network });
    const { manifest, pipelines } = s.program;
    for (let r = 0; r < repeats; r++) {
      manifest.dispatches.forEach((d, k) => {
        pass.setPipeline(pipelines[d.kernel]!);
        pass.setBindGroup(0, s.bindGroups[k]!);
        pass.dispatchWorkgroups(...workgroups(d.grid, batch));
      });
    }
    pass.end();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.begin(); // (which stops at once: `ready` rejects)
    for (const b of this.weights.values()) b.destroy();
    for (const s of this.program.batches.values()) destroyState(s);
    this.program.batches.clear();
    void this.keepAlive;
  }
}
