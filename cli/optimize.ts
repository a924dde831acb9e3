// The optimisation options every compiling command shares: -O level, an explicit pass list,
// --dump-ir after a pass, --verify-each.
import type { Command } from "commander";
import type { Graph } from "../compiler/ir/index.js";
import {
  decomposeSpatial,
  passesByName,
  pipelines,
  runPasses,
  UnknownPassError,
} from "../compiler/passes/index.js";
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

/** Memory planning (a codegen step) runs at -O1 and up, and with an explicit pass list. */
export function plansMemory(o: OptimizeOptions): boolean {
  return o.passes !== undefined || (o.opt ?? "2") !== "0";
}

/** Concat elimination (a codegen step) runs at -O2, and with an explicit pass list. */
export function eliminatesConcat(o: OptimizeOptions): boolean {
  return o.passes !== undefined || (o.opt ?? "2") === "2";
}

/** Runs the chosen passes; pass reports go to `report` (one line each). */
export function optimize(
  io: Io,
  graph: Graph,
  o: OptimizeOptions,
  report?: (line: string) => void,
): Graph {
  let passes;
  try {
    if (o.passes !== undefined)
      passes = passesByName(
        o.passes
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s),
      );
    else {
      const level = `O${o.opt ?? "2"}`;
      if (!(level in pipelines)) throw new UserError(`-O takes 0, 1 or 2, got '${o.opt}'`);
      passes = pipelines[level as keyof typeof pipelines];
    }
  } catch (e) {
    if (e instanceof UnknownPassError) throw new UserError(e.message);
    throw e;
  }
  if (o.decomposeTol !== undefined) {
    const tol = Number(o.decomposeTol);
    if (!(tol > 0 && tol < 1)) {
      throw new UserError(
        `--decompose-tol takes a number between 0 and 1, got '${o.decomposeTol}'`,
      );
    }
    if (!passes.some((p) => p.name === "decompose-spatial")) {
      throw new UserError(
        "--decompose-tol: the decompose-spatial pass does not run here (use -O2)",
      );
    }
    const approximate = decomposeSpatial(tol);
    passes = passes.map((p) => (p.name === "decompose-spatial" ? approximate : p));
  }
  if (o.dumpIr !== undefined && !passes.some((p) => p.name === o.dumpIr)) {
    throw new UserError(
      `--dump-ir ${o.dumpIr}: that pass does not run here (running: ${passes.map((p) => p.name).join(", ") || "none"})`,
    );
  }
  return runPasses(graph, passes, {
    ...(o.verifyEach ? { verifyEach: true } : {}),
    ...(o.dumpIr !== undefined
      ? { dump: { after: o.dumpIr, write: (t: string) => io.out(t) } }
      : {}),
    report: (pass, line) => report?.(`${pass}: ${line}`),
  });
}
