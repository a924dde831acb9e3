// The browser globals the WebGPU peers expect (navigator.gpu, GPUBufferUsage, ...), in Node,
// on cnnc's adapter choice (nodeDevice: a GPU, else llvmpipe, else SwiftShader). Returns the
// NodeDevice, which must stay referenced while anything uses the adapter.
import { nodeDevice } from "../../dist/runtime/node-device.js";

export async function installWebGpuGlobals() {
  const gpu = await nodeDevice();
  const webgpu = await import("webgpu");
  Object.assign(globalThis, webgpu.globals);
  globalThis.navigator = {
    gpu: {
      requestAdapter: (o = {}) => gpu.gpu.requestAdapter({ ...o, ...gpu.adapterOptions }),
      getPreferredCanvasFormat: () => "rgba8unorm",
      wgslLanguageFeatures: gpu.gpu.wgslLanguageFeatures ?? new Set(),
    },
  };
  // ORT-web's wasm heap is a SharedArrayBuffer; Dawn's binding rejects views on one.
  const writeBuffer = GPUQueue.prototype.writeBuffer;
  GPUQueue.prototype.writeBuffer = function (buffer, offset, data, dataOffset, size) {
    // slice() copies a typed array into a plain ArrayBuffer, keeping its element type (and so
    // the meaning of dataOffset and size).
    const plain =
      ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer ? data.slice() : data;
    return writeBuffer.call(this, buffer, offset, plain, dataOffset, size);
  };
  return gpu;
}
