// What the commands share: output streams, the user-error convention, and the front end.
import { compileFrontend, type FrontendResult } from "../compiler/lower/index.js";
import type { Graph } from "../compiler/ir/index.js";
import { formatDiagnostic } from "../grammar/diagnostics.js";
import { nodeHost } from "./host.js";
import { readFileSync, realpathSync, statSync } from "node:fs";
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
          // Where it really is, links followed: a link may not lead out of the folder either.
          if (!realpathSync(path).startsWith(realpathSync(folder) + sep)) return undefined;
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

/** The flags that say which network to read and where its `use` lines may read. */
export interface SourceFlags {
  readonly network?: string | undefined;
  /** The folder `use` may read below (--use-root); the file's own folder by default. */
  readonly useRoot?: string | undefined;
}

/** The network of a .cnn file (front end) or of an .onnx model (import, weights included). */
export function sourceGraph(io: Io, file: string, flags: SourceFlags): Graph {
  return file.endsWith(".onnx") ? importModel(file) : frontend(io, file, flags);
}

export function frontend(io: Io, file: string, flags: SourceFlags): Graph {
  const result = compileFrontend(file, nodeHost, {
    ...(flags.network ? { network: flags.network } : {}),
    ...(flags.useRoot !== undefined ? { root: flags.useRoot } : {}),
  });
  report(io, result);
  if (!result.graph) throw new Error("internal: no graph and no error");
  return result.graph;
}

/** --seed: an integer (0 when not given); anything else is an error, never a silent 0. */
export function seed(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number(text);
  // The generator takes 32 bits: a larger or negative seed would silently mean another one.
  if (!/^\d+$/.test(text) || n > 0xffffffff)
    throw new UserError(`--seed must be an integer from 0 to 4294967295, got '${text}'`);
  return n;
}

export function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
    throw new UserError(`${what} must be a positive integer, got '${text}'`);
  return n;
}
