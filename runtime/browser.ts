// cnnc's runtime for pages (the `browser` condition of `cnnc/runtime`): bundles are fetched,
// the device is navigator.gpu's. It names no Node module, so bundlers need no flags.
//
//   import { loadModel, imageToInput } from "cnnc/runtime";
//   const model = await loadModel("/net.cnnb");
//   const x = await imageToInput(img, { width: 224, height: 224 });
//   const { y } = await model.run({ x });                  // y.data, y.shape
/// <reference types="@webgpu/types" preserve="true" />
import {
  browserDevice,
  loadWith,
  type BundleSource,
  type LoadedModel,
  type LoadOptions,
} from "./load.js";

export * from "./load.js";
export { GpuTrainer } from "./trainer.js";

/** Loads a bundle from bytes or a URL and compiles it for this page's WebGPU device. */
export function loadModel(source: BundleSource, options: LoadOptions = {}): Promise<LoadedModel> {
  return loadWith(source, options, { device: browserDevice });
}
