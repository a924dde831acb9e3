// The front end's file access in Node.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { SourceHost } from "../compiler/lower/index.js";

export const nodeHost: SourceHost = {
  read(path) {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  },
  resolve: (from, relative) => join(dirname(from), relative),
};
