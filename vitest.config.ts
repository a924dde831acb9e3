import { existsSync, readdirSync } from "node:fs";
import { defineConfig } from "vitest/config";

// Tests that need no GPU run once; GPU tests run once per CPU WebGPU adapter (CI has no GPU:
// llvmpipe in compatibility mode and SwiftShader in core mode both run every kernel), and once
// more on the GPU where the machine has one (a driver's device node: NVIDIA's, or a DRM render
// node). CNNC_TEST_GPU=0 leaves the GPU out, =1 asks for it where no device node shows.
const gpuProject = (adapter: string, name = `gpu-${adapter}`) => ({
  extends: true as const,
  test: {
    name,
    include: ["test/gpu/**/*.test.ts"],
    env: { CNNC_ADAPTER: adapter },
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});

function machineHasGpu(): boolean {
  if (process.env.CNNC_TEST_GPU) return process.env.CNNC_TEST_GPU === "1";
  if (existsSync("/dev/nvidia0")) return true;
  return existsSync("/dev/dri") && readdirSync("/dev/dri").some((f) => f.startsWith("renderD"));
}

export default defineConfig({
  test: {
    reporters: ["default", "./test/support/closing-line-reporter.ts"],
    // Two cores on CI: keep workers to what the machine has.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/gpu/**", "test/browser/**"],
          // CLI tests spawn several processes; on 2 cores beside the GPU projects they can take
          // well over vitest's default 5 s. Not a speed check: a hang still fails.
          testTimeout: 60_000,
        },
      },
      gpuProject("llvmpipe"),
      // The runtime in headless Chromium (its own WebGPU, on SwiftShader).
      {
        extends: true,
        test: { name: "browser", include: ["test/browser/**/*.test.ts"], testTimeout: 120_000 },
      },
      gpuProject("swiftshader"),
      ...(machineHasGpu() ? [gpuProject("gpu", "gpu-hardware")] : []),
    ],
  },
});
