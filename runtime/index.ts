// cnnc's runtime: load a `.cnnb` bundle and run it on WebGPU, in Node or a browser.
//
//   import { loadModel } from "cnnc/runtime";
//   const model = await loadModel("net.cnnb");            // bytes, a path (Node) or a URL
//   const { y } = await model.run({ x }, { batch: 4 });   // x: a Float32Array or a GPUBuffer
//   model.encode(encoder, { x: xBuffer }, { y: yBuffer }); // GPU buffers in and out, no submit
//   model.dispose();
import { Model, RuntimeError } from "./model.js";

export {
  batchSizesKept,
  maxRepeats,
  Model,
  nonFinite,
  RuntimeError,
  type InputData,
  type ModelInfo,
  type RunOptions,
} from "./model.js";
export {
  BundleError,
  isDerived,
  parseBundle,
  type DerivedWeight,
  type Manifest,
  type ManifestWeight,
  type StoredWeight,
} from "./format.js";
export { defaultLimits, type DeviceLimits } from "./limits.js";
export { weightData } from "./weights.js";

export interface LoadOptions {
  /** A device to use; otherwise the browser's (navigator.gpu) or, in Node, nodeDevice(). */
  readonly device?: GPUDevice;
  /** In Node, which adapter when no device is given (see runtime/node-device.ts). */
  readonly adapter?: "auto" | "gpu" | "llvmpipe" | "swiftshader";
  /** Called as a fetched bundle streams in (total: from Content-Length, when sent). */
  readonly onProgress?: (loaded: number, total: number | undefined) => void;
}

export interface LoadedModel extends Model {
  /** The adapter the model runs on, in words. */
  readonly adapterName: string;
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
  source: Uint8Array | ArrayBuffer | string | URL,
  onProgress?: (loaded: number, total: number | undefined) => void,
): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof source !== "string" && !(source instanceof URL))
    throw new RuntimeError(
      `a bundle source is a Uint8Array, an ArrayBuffer, a path or a URL, got ${source === null ? "null" : typeof source}`,
    );
  const text = String(source);
  if (/^(https?|blob|data):/.test(text) || typeof process === "undefined") {
    const response = await fetch(text);
    if (!response.ok) throw new RuntimeError(`cannot fetch ${text}: HTTP ${response.status}`);
    return streamed(response, onProgress);
  }
  const { readFile, stat } = await import("node:fs/promises");
  const path = text.startsWith("file:") ? new URL(text) : text;
  // A regular file only: a folder fails late, and a device or a FIFO never ends.
  try {
    if (!(await stat(path)).isFile())
      throw new RuntimeError(`cannot read '${text}': it is not a regular file`);
    return new Uint8Array(await readFile(path));
  } catch (e) {
    if (e instanceof RuntimeError) throw e;
    const code = (e as { code?: string }).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied"
          : (code ?? String(e));
    throw new RuntimeError(`cannot read '${text}': ${why}`);
  }
}

export async function loadModel(
  source: Uint8Array | ArrayBuffer | string | URL,
  options: LoadOptions = {},
): Promise<LoadedModel> {
  const bytes = await bytesOf(source, options.onProgress);
  let device = options.device;
  let adapterName = "the given device";
  let keepAlive: unknown;
  if (!device) {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    if (typeof process === "undefined") {
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
      device = await adapter.requestDevice({
        requiredLimits: {
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
          maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
        },
      });
      adapterName = adapter.info.description || adapter.info.vendor || "browser WebGPU";
    } else {
      const { nodeDevice } = await import("./node-device.js");
      const d = await nodeDevice(options.adapter);
      device = d.device;
      adapterName = d.adapter;
      keepAlive = d;
    }
  }
  const model = await Model.create(bytes, device, keepAlive);
  return Object.assign(model, { adapterName });
}
