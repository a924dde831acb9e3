import { nodeHost } from "../../cli/host.js";
import { compileFrontend, memoryHost } from "../../compiler/lower/index.js";
import type { Graph } from "../../compiler/ir/index.js";
import { formatDiagnostic, type Diagnostic } from "../../grammar/diagnostics.js";

/** Lowers a source text; throws with the formatted diagnostics if it has errors. */
export function lowerText(text: string, files: Record<string, string> = {}): Graph {
  const result = compileFrontend("main.cnn", memoryHost({ "main.cnn": text, ...files }));
  if (!result.graph) {
    throw new Error(result.diagnostics.map((d) => formatDiagnostic(d, result.sources)).join("\n"));
  }
  return result.graph;
}

/** The diagnostics of a source text (errors and warnings). */
export function diagnosticsOf(text: string): readonly Diagnostic[] {
  return compileFrontend("main.cnn", memoryHost({ "main.cnn": text })).diagnostics;
}

export function lowerFile(path: string): Graph {
  const result = compileFrontend(path, nodeHost);
  if (!result.graph) {
    throw new Error(result.diagnostics.map((d) => formatDiagnostic(d, result.sources)).join("\n"));
  }
  return result.graph;
}
