/// <reference types="@webgpu/types" preserve="true" />
// A WebGPU device in Node, through Dawn (the `webgpu` package). With a real GPU, that GPU;
// without one, a CPU adapter: Mesa llvmpipe through OpenGL ES in compatibility mode (the faster
// emulation here, ~2x on convolutions) or SwiftShader through Vulkan (core WebGPU). Choose with
// `adapter` or the CNNC_ADAPTER environment variable: gpu | llvmpipe | swiftshader | auto.
//
// Dawn's instance (what `create()` returns) must stay referenced while its device lives: when
// it is garbage-collected first, Dawn crashes or hangs. Every instance made here is kept.

import { existsSync, readdirSync } from "node:fs";
import { adapterDescription, wantedFeatures } from "./load.js";
import { RuntimeError } from "./model.js";

export type AdapterChoice = "auto" | "gpu" | "llvmpipe" | "swiftshader";

export interface NodeDevice {
  readonly device: GPUDevice;
  /** Which adapter, in words: "llvmpipe (Mesa, OpenGL ES, compatibility mode)". */
  readonly adapter: string;
  readonly kind: Exclude<AdapterChoice, "auto">;
  /** The Dawn instance (navigator.gpu's counterpart), kept alive with the device. */
  readonly gpu: GPU;
  /** The options that found this adapter: what another library's requestAdapter needs too. */
  readonly adapterOptions: GPURequestAdapterOptions;
}

interface WebgpuModule {
  create(options: string[]): GPU;
  globals: object;
}

const instances: unknown[] = [];

/** The adapter's own values of the limits cnnc's kernels and buffers press on. */
export function wantedLimits(adapter: GPUAdapter): Record<string, number> {
  const l = adapter.limits;
  return {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
  };
}
const swiftshaderIcd = "/usr/lib/chromium/vk_swiftshader_icd.json";
const software = /swiftshader|llvmpipe|lavapipe|softpipe/i;

/** The pinned version of Dawn's Node binding that cnnc is tested with (an optional peer). */
export const webgpuVersion = "0.6.2";

async function webgpu(): Promise<WebgpuModule> {
  let mod: WebgpuModule & { default?: WebgpuModule };
  try {
    mod = (await import("webgpu")) as unknown as WebgpuModule & { default?: WebgpuModule };
  } catch (e) {
    if ((e as { code?: string }).code !== "ERR_MODULE_NOT_FOUND") throw e;
    throw new RuntimeError(
      `running models in Node needs WebGPU from the 'webgpu' package (Dawn), an optional peer of cnnc that is not installed: npm install webgpu@${webgpuVersion} (or run on the CPU reference with --cpu)`,
    );
  }
  const m = mod.default ?? mod;
  Object.assign(globalThis, m.globals);
  return m;
}

async function tryAdapter(kind: Exclude<AdapterChoice, "auto">): Promise<NodeDevice | undefined> {
  if (kind === "swiftshader") process.env.VK_ICD_FILENAMES = swiftshaderIcd;
  if (kind === "llvmpipe") process.env.EGL_PLATFORM ??= "surfaceless";
  const m = await webgpu();
  const gpu = m.create([kind === "llvmpipe" ? "backend=opengles" : "backend=vulkan"]);
  instances.push(gpu);
  const adapterOptions: GPURequestAdapterOptions =
    kind === "llvmpipe"
      ? ({ featureLevel: "compatibility" } as GPURequestAdapterOptions)
      : { powerPreference: "high-performance" };
  const adapter = await gpu.requestAdapter(adapterOptions);
  if (!adapter) return undefined;
  const name = adapterDescription(adapter.info);
  if (kind === "gpu" && software.test(name)) return undefined;
  if (kind === "swiftshader" && !/swiftshader/i.test(name)) return undefined;
  const device = await adapter.requestDevice({
    label: `cnnc on ${kind}`,
    requiredLimits: wantedLimits(adapter),
    requiredFeatures: wantedFeatures(adapter),
  });
  const words = {
    gpu: `GPU: ${name}`,
    llvmpipe: "llvmpipe (Mesa, OpenGL ES, compatibility mode)",
    swiftshader: "SwiftShader (Vulkan, core WebGPU)",
  }[kind];
  return { device, adapter: words, kind, gpu, adapterOptions };
}

/** Device nodes a GPU driver exposes (NVIDIA's, or DRM render nodes); none in CPU-only boxes. */
export function gpuPresent(): boolean {
  if (existsSync("/dev/nvidia0")) return true;
  try {
    return readdirSync("/dev/dri").some((f) => f.startsWith("renderD"));
  } catch {
    return false;
  }
}

export async function nodeDevice(choice?: AdapterChoice): Promise<NodeDevice> {
  const wanted = choice ?? (process.env.CNNC_ADAPTER as AdapterChoice | undefined) ?? "auto";
  const cpu: Exclude<AdapterChoice, "auto">[] = ["llvmpipe", "swiftshader"];
  const order: Exclude<AdapterChoice, "auto">[] =
    wanted !== "auto" ? [wanted] : gpuPresent() ? ["gpu", ...cpu] : cpu;
  if (!["auto", "gpu", "llvmpipe", "swiftshader"].includes(wanted)) {
    throw new RuntimeError(
      `unknown adapter '${wanted}': choose gpu, llvmpipe, swiftshader or auto`,
    );
  }
  await webgpu(); // (missing: said once, not once per adapter)
  const tried: string[] = [];
  for (const kind of order) {
    try {
      const d = await tryAdapter(kind);
      if (d) return d;
      tried.push(`${kind}: no adapter`);
    } catch (e) {
      tried.push(`${kind}: ${(e as Error).message}`);
    }
  }
  throw new RuntimeError(
    `no WebGPU adapter (${tried.join("; ")}). Without a GPU, install Mesa (libegl-mesa0 libgles2) or Chromium's SwiftShader (chromium, libvulkan1): see scripts/setup.sh`,
  );
}
