// What the commands share: output streams, the user-error convention, and the front end.
import { compileFrontend, type FrontendResult } from "../compiler/lower/index.js";
import type { Graph } from "../compiler/ir/index.js";
import { formatDiagnostic } from "../grammar/diagnostics.js";
import { nodeHost } from "./host.js";

export interface Io {
  out(text: string): void;
  err(text: string): void;
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

export function frontend(io: Io, file: string, network: string | undefined): Graph {
  const result = compileFrontend(file, nodeHost, network ? { network } : {});
  report(io, result);
  if (!result.graph) throw new Error("internal: no graph and no error");
  return result.graph;
}

export function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UserError(`${what} must be a positive integer, got '${text}'`);
  return n;
}
