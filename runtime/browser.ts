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
  loadTrainerWith,
  loadWith,
  type BundleSource,
  type LoadedModel,
  type LoadedTrainer,
  type LoadOptions,
} from "./load.js";

export * from "./load.js";

/** Loads a bundle from bytes or a URL and compiles it for this page's WebGPU device. */
export function loadModel(source: BundleSource, options: LoadOptions = {}): Promise<LoadedModel> {
  return loadWith(source, options, { device: browserDevice });
}

/** Loads a training bundle (`cnnc build --train`) from bytes, a path (Node) or a URL. */
export function loadTrainer(
  source: BundleSource,
  options: LoadOptions = {},
): Promise<LoadedTrainer> {
  return loadTrainerWith(source, options, { device: browserDevice });
}
