// cnnc's runtime: load a `.cnnb` bundle and run it on WebGPU, in Node or a browser.
//
//   import { loadModel } from "cnnc/runtime";
//   const model = await loadModel("net.cnnb");            // bytes, a path (Node) or a URL
//   const { y } = await model.run({ x }, { batch: 4 });
//   model.dispose();
import { Model } from "./model.js";

export { Model, RuntimeError, type ModelInfo, type RunOptions } from "./model.js";
export { BundleError, parseBundle, type Manifest } from "./format.js";

export interface LoadOptions {
  /** A device to use; otherwise the browser's (navigator.gpu) or, in Node, nodeDevice(). */
  readonly device?: GPUDevice;
  /** In Node, which adapter when no device is given (see runtime/node-device.ts). */
  readonly adapter?: "auto" | "gpu" | "llvmpipe" | "swiftshader";
}

export interface LoadedModel extends Model {
  /** The adapter the model runs on, in words. */
  readonly adapterName: string;
}

async function bytesOf(source: Uint8Array | ArrayBuffer | string | URL): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  const text = String(source);
  if (/^(https?|blob|data):/.test(text) || typeof process === "undefined") {
    const response = await fetch(text);
    if (!response.ok) throw new Error(`cannot fetch ${text}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  const { readFile } = await import("node:fs/promises");
  return new Uint8Array(await readFile(text.startsWith("file:") ? new URL(text) : text));
}

export async function loadModel(
  source: Uint8Array | ArrayBuffer | string | URL,
  options: LoadOptions = {},
): Promise<LoadedModel> {
  const bytes = await bytesOf(source);
  let device = options.device;
  let adapterName = "the given device";
  let keepAlive: unknown;
  if (!device) {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    if (typeof process === "undefined" && nav?.gpu) {
      const adapter = await nav.gpu.requestAdapter();
      if (!adapter) throw new Error("this browser offers no WebGPU adapter");
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
