// What both entries share: the public API but `loadModel`, and the loading it does once the
// bytes and the device are found. The Node entry (index.ts) finds them on disk and through
// Dawn; the browser entry (browser.ts) by fetch and navigator.gpu, and never names a Node
// module, so that bundlers need no flags for it.
/// <reference types="@webgpu/types" preserve="true" />
import { Model, RuntimeError } from "./model.js";
import { GpuTrainer } from "./trainer.js";
import { parseTrainingBundle } from "./train-format.js";

export {
  batchSizesKept,
  maxRepeats,
  Model,
  nonFinite,
  PipelineCache,
  RuntimeError,
  type CreateOptions,
  type InputData,
  type ModelInfo,
  type RunOptions,
} from "./model.js";
export {
  adapterClass,
  BundleError,
  isDerived,
  manifestFor,
  parseBundle,
  quickManifestFor,
  type AdapterClass,
  type DerivedWeight,
  type Manifest,
  type ManifestVariant,
  type ManifestWeight,
  type StoredWeight,
} from "./format.js";
export { defaultLimits, type DeviceLimits } from "./limits.js";
export { GpuTrainer } from "./trainer.js";
export {
  optimizerKinds,
  parseTrainingBundle,
  type OptimizerConfig,
  type OptimizerKind,
  type ParsedTrainingBundle,
  type TrainingManifest,
  type TrainPlan,
} from "./train-format.js";
export { weightData } from "./weights.js";
export {
  imageToInput,
  pixelsToInput,
  type ImageInputOptions,
  type ImageSource,
  type Pixels,
  type Tensor,
} from "./tensor.js";

export interface LoadOptions {
  /** A device to use; otherwise the browser's (navigator.gpu) or, in Node, nodeDevice(). */
  readonly device?: GPUDevice;
  /** In Node, which adapter when no device is given (see runtime/node-device.ts). */
  readonly adapter?: "auto" | "gpu" | "llvmpipe" | "swiftshader";
  /** Called as a fetched bundle streams in (total: from Content-Length, when sent). */
  readonly onProgress?: (loaded: number, total: number | undefined) => void;
  /**
   * Called as each kernel's pipeline is compiled (done of total, with the first layer it
   * runs): on CPU adapters the first load of a large network spends seconds here.
   */
  readonly onCompiled?: (done: number, total: number, layer: string) => void;
  /**
   * Run the bundle's quick start, where it has one for the adapter, until its own kernels have
   * compiled in the background (`ready`). Default true; false: load waits for them.
   */
  readonly quickStart?: boolean;
}

export interface LoadedModel extends Model {
  /** The adapter the model runs on, in words: the adapter's own description where it has one. */
  readonly adapterName: string;
}

export type BundleSource = Uint8Array | ArrayBuffer | string | URL;

/** What an entry supplies: how it reads a path, and the device it uses when none is given. */
export interface Host {
  /** Bytes of a string or URL source that is not http(s), blob or data; absent: fetched. */
  readonly readPath?: (path: string) => Promise<Uint8Array>;
  readonly device: (
    options: LoadOptions,
  ) => Promise<{ device: GPUDevice; adapterName: string; keepAlive?: unknown }>;
}

/** Reads a response body chunk by chunk into one buffer, reporting progress as it goes. */
async function streamed(
  response: Response,
  onProgress?: (loaded: number, total: number | undefined) => void,
): Promise<Uint8Array> {
  const length = Number(response.headers.get("content-length") ?? NaN);
  const total = Number.isSafeInteger(length) && length > 0 ? length : undefined;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  let out = new Uint8Array(total ?? 1 << 20);
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > out.length) {
      const grown = new Uint8Array(Math.max(out.length * 2, loaded + value.length));
      grown.set(out.subarray(0, loaded));
      out = grown;
    }
    out.set(value, loaded);
    loaded += value.length;
    onProgress?.(loaded, total);
  }
  return out.subarray(0, loaded);
}

async function bytesOf(
  source: BundleSource,
  options: LoadOptions,
  host: Host,
): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof source !== "string" && !(source instanceof URL))
    throw new RuntimeError(
      `a bundle source is a Uint8Array, an ArrayBuffer, a path or a URL, got ${source === null ? "null" : typeof source}`,
    );
  const text = String(source);
  if (/^(https?|blob|data):/.test(text) || !host.readPath) {
    const response = await fetch(text);
    if (!response.ok) throw new RuntimeError(`cannot fetch ${text}: HTTP ${response.status}`);
    return streamed(response, options.onProgress);
  }
  return host.readPath(text);
}

/** The browser's WebGPU device, with the adapter's own limits where cnnc presses on them. */
export async function browserDevice(): Promise<{ device: GPUDevice; adapterName: string }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (!nav?.gpu) {
    throw new RuntimeError(
      "WebGPU is not available in this browser (no navigator.gpu): use a recent Chrome, Edge or Safari, or Firefox with WebGPU enabled, over https or localhost",
    );
  }
  const adapter = await nav.gpu.requestAdapter();
  if (!adapter) {
    throw new RuntimeError(
      "this browser has WebGPU but offers no adapter (GPU blocklisted, or disabled in its settings)",
    );
  }
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    },
    requiredFeatures: wantedFeatures(adapter),
  });
  return {
    device,
    adapterName:
      adapterDescription(adapter.info) || "WebGPU adapter (the browser does not describe it)",
  };
}

/**
 * The adapter's features that cnnc's kernels use where a device has them: `subgroups`
 * (Manifest.subgroupKernels).
 */
export function wantedFeatures(adapter: GPUAdapter): GPUFeatureName[] {
  return (["subgroups"] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
}

/**
 * An adapter in words, from what it says of itself: "nvidia ampere NVIDIA GeForce RTX 3060",
 * "google swiftshader"; "" when it says nothing.
 */
export function adapterDescription(info: GPUAdapterInfo): string {
  return [info.vendor, info.architecture, info.device, info.description]
    .filter((s) => s)
    .join(" ")
    .trim();
}

/** The bundle's bytes; the device comes later, once they have passed their checks. */
async function bytesFor(source: BundleSource, options: LoadOptions, host: Host) {
  if (typeof options !== "object" || options === null)
    throw new RuntimeError("load options must be an object such as { onProgress }");
  return bytesOf(source, options, host);
}

/** The given device, or the host's. */
async function deviceFor(options: LoadOptions, host: Host) {
  return options.device
    ? { device: options.device, adapterName: "the given device", keepAlive: undefined }
    : host.device(options);
}

export async function loadWith(
  source: BundleSource,
  options: LoadOptions,
  host: Host,
): Promise<LoadedModel> {
  const bytes = await bytesFor(source, options, host);
  const found = await deviceFor(options, host);
  const model = await Model.create(
    bytes,
    found.device,
    found.keepAlive,
    options.onCompiled,
    options.quickStart === undefined ? {} : { quickStart: options.quickStart },
  );
  return Object.assign(model, { adapterName: found.adapterName });
}

export interface LoadedTrainer extends GpuTrainer {
  /** The adapter it trains on, in words. */
  readonly adapterName: string;
}

/**
 * Loads a training bundle (`cnnc build --train`) and makes a trainer of it on a WebGPU device:
 * `step(x, labels)` takes one optimiser step on a batch (the bundle's learning rate unless
 * given), `weights()` reads every weight back, `predict(x, batch)` scores in inference mode.
 * Every check of the bundle runs before anything is allocated on the GPU.
 */
export async function loadTrainerWith(
  source: BundleSource,
  options: LoadOptions,
  host: Host,
): Promise<LoadedTrainer> {
  const { plan, optimizer, weights } = parseTrainingBundle(await bytesFor(source, options, host));
  const found = await deviceFor(options, host);
  const trainer = await GpuTrainer.create(plan, weights, optimizer, found.device, found.keepAlive);
  return Object.assign(trainer, { adapterName: found.adapterName });
}
