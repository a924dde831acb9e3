// What the commands share: output streams, the user-error convention, and the front end.
import { compileFrontend, type FrontendResult } from "../compiler/lower/index.js";
import type { Graph } from "../compiler/ir/index.js";
import { formatDiagnostic } from "../grammar/diagnostics.js";
import { nodeHost } from "./host.js";
import { readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve, sep } from "node:path";
import { importOnnx, ImportError } from "../compiler/onnx/index.js";

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Text for a terminal: control characters other than newline and tab (escape sequences that
 * could recolour, move the cursor or retitle the window, from a name in a bundle or a model)
 * are shown as `\x1b`-style escapes instead of acting.
 */
export function terminalSafe(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** A user error: its message is printed as `cnnc: message`, exit code 1, no stack trace. */
export class UserError extends Error {}

/** Prints the diagnostics; a user error (exit 1) if any is an error. */
export function report(io: Io, result: Pick<FrontendResult, "diagnostics" | "sources">): void {
  for (const d of result.diagnostics) io.err(formatDiagnostic(d, result.sources) + "\n");
  const errors = result.diagnostics.filter((d) => d.severity === "error").length;
  if (errors) {
    io.err(`${errors} error${errors === 1 ? "" : "s"}\n`);
    throw new UserError(""); // already reported
  }
}

/** An ONNX model read as IR, its weights attached (constants). */
export function importModel(file: string): Graph {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new UserError(`cannot read '${file}'`);
  }
  try {
    return importOnnx(bytes, {
      // External tensor data: a regular file below the model's folder, nothing else.
      readExternal: (location) => {
        const folder = resolve(dirname(file));
        const path = resolve(folder, location);
        if (isAbsolute(location) || !path.startsWith(folder + sep)) return undefined;
        try {
          if (!statSync(path).isFile()) return undefined;
          return readFileSync(path);
        } catch {
          return undefined;
        }
      },
    });
  } catch (e) {
    if (e instanceof ImportError) throw new UserError(`${file}: ${e.message}`);
    throw e;
  }
}

/** The network of a .cnn file (front end) or of an .onnx model (import, weights included). */
export function sourceGraph(io: Io, file: string, network: string | undefined): Graph {
  return file.endsWith(".onnx") ? importModel(file) : frontend(io, file, network);
}

export function frontend(io: Io, file: string, network: string | undefined): Graph {
  const result = compileFrontend(file, nodeHost, network ? { network } : {});
  report(io, result);
  if (!result.graph) throw new Error("internal: no graph and no error");
  return result.graph;
}

/** --seed: an integer (0 when not given); anything else is an error, never a silent 0. */
export function seed(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n))
    throw new UserError(`--seed must be an integer, got '${text}'`);
  return n;
}

export function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new UserError(`${what} must be a positive integer, got '${text}'`);
  return n;
}
