// cnnc's runtime: load a `.cnnb` bundle and run it on WebGPU. This is the Node entry of
// `cnnc/runtime` (paths read from disk, the device found through Dawn: see node-device.ts); it
// also runs unbundled in a page, where it fetches. Bundlers take browser.ts instead.
//
//   import { loadModel } from "cnnc/runtime";
//   const model = await loadModel("net.cnnb");            // bytes, a path (Node) or a URL
//   const { y } = await model.run({ x }, { batch: 4 });   // x: a Tensor, Float32Array or GPUBuffer
//   y.data, y.shape                                       // Float32Array, [4, 10]
//   model.encode(encoder, { x: xBuffer }, { y: yBuffer }); // GPU buffers in and out, no submit
//   model.dispose();
/// <reference types="@webgpu/types" preserve="true" />
import {
  browserDevice,
  loadTrainerWith,
  loadWith,
  RuntimeError,
  type BundleSource,
  type Host,
  type LoadedModel,
  type LoadedTrainer,
  type LoadOptions,
} from "./load.js";

export * from "./load.js";

/** A path's bytes: a regular file only (a folder fails late, a device or a FIFO never ends). */
async function readPath(text: string): Promise<Uint8Array> {
  const { readFile, stat } = await import("node:fs/promises");
  const path = text.startsWith("file:") ? new URL(text) : text;
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

const inNode = typeof process !== "undefined" && typeof process.versions?.node === "string";

const node: Host = {
  readPath,
  async device(options) {
    const { nodeDevice } = await import("./node-device.js");
    const d = await nodeDevice(options.adapter);
    return { device: d.device, adapterName: d.adapter, keepAlive: d };
  },
};

/** Loads a bundle from bytes, a path (Node) or a URL, and compiles it for a WebGPU device. */
export function loadModel(source: BundleSource, options: LoadOptions = {}): Promise<LoadedModel> {
  return loadWith(source, options, inNode ? node : { device: browserDevice });
}

/** Loads a training bundle (`cnnc build --train`) from bytes, a path (Node) or a URL. */
export function loadTrainer(
  source: BundleSource,
  options: LoadOptions = {},
): Promise<LoadedTrainer> {
  return loadTrainerWith(source, options, inNode ? node : { device: browserDevice });
}
