import { defineConfig } from "vitest/config";

// Tests that need no GPU run once; GPU tests run once per CPU WebGPU adapter (CI has no GPU:
// llvmpipe in compatibility mode and SwiftShader in core mode both run every kernel).
const gpuProject = (adapter: string) => ({
  extends: true as const,
  test: {
    name: `gpu-${adapter}`,
    include: ["test/gpu/**/*.test.ts"],
    env: { CNNC_ADAPTER: adapter },
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});

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
    ],
  },
});
