// The optimisation flags every compiling command shares (-O level, an explicit pass list,
// --dump-ir after a pass, --verify-each), turned into the compile driver's options.
import type { Command } from "commander";
import { compileGraph, type CompileOptions, type OptLevel } from "../compiler/compile.js";
import type { Graph } from "../compiler/ir/index.js";
import { UserError, type Io } from "./common.js";

export interface OptimizeOptions {
  readonly opt?: string;
  readonly passes?: string;
  readonly dumpIr?: string;
  readonly verifyEach?: boolean;
  readonly decomposeTol?: string;
}

export function addOptimizeOptions(cmd: Command, defaultLevel: "0" | "2"): Command {
  return cmd
    .option(
      "-O, --opt <level>",
      "optimisation level: 0 (no passes), 1 (cleanups, BN folding), 2 (and fusion)",
      defaultLevel,
    )
    .option("--passes <list>", "run these passes, comma-separated, instead of a level")
    .option("--dump-ir <pass>", "print the IR after that pass")
    .option("--verify-each", "verify the IR after every pass")
    .option(
      "--decompose-tol <T>",
      "let decompose-spatial approximate: keep singular values down to T of the weight's norm (default exact)",
    );
}

/**
 * The compile driver's options for these flags; what each level means lives in the driver
 * (compiler/compile.ts). `report` takes the passes' report lines.
 */
export function compileOptions(
  io: Io,
  o: OptimizeOptions,
  report?: (line: string) => void,
): CompileOptions {
  const level = o.opt ?? "2";
  if (o.passes === undefined && !["0", "1", "2"].includes(level))
    throw new UserError(`-O takes 0, 1 or 2, got '${o.opt}'`);
  let tolerance: number | undefined;
  if (o.decomposeTol !== undefined) {
    tolerance = Number(o.decomposeTol);
    if (!(tolerance > 0 && tolerance < 1))
      throw new UserError(
        `--decompose-tol takes a number between 0 and 1, got '${o.decomposeTol}'`,
      );
  }
  return {
    opt: Number(level) as OptLevel,
    ...(o.passes !== undefined
      ? {
          passes: o.passes
            .split(",")
            .map((s) => s.trim())
            .filter((s) => s),
        }
      : {}),
    ...(tolerance !== undefined ? { decomposeTolerance: tolerance } : {}),
    ...(o.verifyEach ? { verifyEach: true } : {}),
    ...(o.dumpIr !== undefined
      ? { dumpIr: { after: o.dumpIr, write: (t: string) => io.out(t) } }
      : {}),
    ...(report ? { onReport: report } : {}),
  };
}

/** The passes alone (cnnc ir, graph, summary --optimized). */
export function optimize(io: Io, graph: Graph, o: OptimizeOptions): Graph {
  return compileGraph(graph, { ...compileOptions(io, o), passesOnly: true }).graph;
}
