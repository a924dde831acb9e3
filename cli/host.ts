// The front end's file access in Node: regular files only (no devices, FIFOs or folders), and
// none larger than a source file could reasonably be, checked before reading.
import { readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { SourceHost } from "../compiler/lower/index.js";

/** The largest `.cnn` file cnnc reads: 16 MiB, far beyond any network written by hand. */
export const maxSourceBytes = 16 * 1024 * 1024;

export const nodeHost: SourceHost = {
  read(path) {
    try {
      const stat = statSync(path);
      if (!stat.isFile() || stat.size > maxSourceBytes) return undefined;
      return readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  },
  resolve: (from, relative) => join(dirname(from), relative),
  real(path) {
    try {
      return realpathSync(path);
    } catch {
      return undefined;
    }
  },
};
