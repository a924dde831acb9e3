import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/support/closing-line-reporter.ts"],
    // Two cores on CI: keep workers to what the machine has.
    maxWorkers: 2,
  },
});
