// The passes in their canonical order, found by name, and run one after another (verifying
// and dumping between them when asked). Which run at each -O level is the compile driver's
// (compiler/compile.ts `levels`), the one place that says what a level means.
import { verify, printIr, type Graph } from "../ir/index.js";
import { deadCode } from "./dce.js";
import { decomposeSpatial } from "./decompose-spatial.js";
import { foldBatchNorm } from "./fold-batchnorm.js";
import { foldPadding } from "./fold-padding.js";
import { fuseActivation, fuseResidual } from "./fuse.js";
import { legalize } from "./legalize.js";
import type { Pass } from "./pass.js";
import { CompileError } from "../errors.js";

/** Exact decompositions only; `--decompose-tol` swaps in an approximating instance. */
export const decomposeExact = decomposeSpatial();

export const allPasses: readonly Pass[] = [
  legalize,
  foldBatchNorm,
  foldPadding,
  decomposeExact,
  fuseResidual,
  fuseActivation,
  deadCode,
];

export class UnknownPassError extends CompileError {}

export function passesByName(names: readonly string[]): Pass[] {
  return names.map((name) => {
    const pass = allPasses.find((p) => p.name === name);
    if (!pass) {
      throw new UnknownPassError(
        `unknown pass '${name}'; passes: ${allPasses.map((p) => p.name).join(", ")}`,
      );
    }
    return pass;
  });
}

export interface RunPassesOptions {
  /** Verify the graph after every pass (always in tests). */
  readonly verifyEach?: boolean;
  /** Called with the IR text after the named pass (`--dump-ir <pass>`). */
  readonly dump?: { readonly after: string; readonly write: (text: string) => void };
  readonly report?: (pass: string, line: string) => void;
}

export function runPasses(
  graph: Graph,
  passes: readonly Pass[],
  options: RunPassesOptions = {},
): Graph {
  let g = graph;
  for (const pass of passes) {
    g = pass.run(g, { report: (line) => options.report?.(pass.name, line) });
    if (options.verifyEach) verify(g);
    if (options.dump?.after === pass.name) options.dump.write(printIr(g));
  }
  return g;
}
