// `cnnc`: thin commands over the compiler. Exit codes: 0 done, 1 the user's input was wrong
// (diagnostics printed), 2 the compiler itself failed (a bug: the only case with a stack trace).
import { Command, CommanderError } from "commander";
import { formatSummary, summarize, summaryJson } from "../compiler/analysis/index.js";
import { printIr, type Graph } from "../compiler/ir/index.js";
import { checkAllNetworks, compileFrontend, type FrontendResult } from "../compiler/lower/index.js";
import { formatDiagnostic } from "../grammar/diagnostics.js";
import { nodeHost } from "./host.js";

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** Thrown by a command for a user error that it has already reported. */
class UserError extends Error {}

/** Prints the diagnostics; a user error (exit 1) if any is an error. */
function report(io: Io, result: Pick<FrontendResult, "diagnostics" | "sources">): void {
  for (const d of result.diagnostics) io.err(formatDiagnostic(d, result.sources) + "\n");
  const errors = result.diagnostics.filter((d) => d.severity === "error").length;
  if (errors) {
    io.err(`${errors} error${errors === 1 ? "" : "s"}\n`);
    throw new UserError();
  }
}

function frontend(io: Io, file: string, network: string | undefined): Graph {
  const result = compileFrontend(file, nodeHost, network ? { network } : {});
  report(io, result);
  if (!result.graph) throw new Error("internal: no graph and no error");
  return result.graph;
}

function program(io: Io): Command {
  const cnnc = new Command("cnnc")
    .description("Compile declarative CNN descriptions (.cnn) to WebGPU compute pipelines.")
    .version("0.1.0")
    .showHelpAfterError("(run 'cnnc help' for the commands)")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  const networkOption = [
    "--network <name>",
    "which network, when the file declares several",
  ] as const;

  cnnc
    .command("check")
    .description("parse a .cnn file and infer every shape of every network; report all errors")
    .argument("<file>", "the .cnn file")
    .option("--network <name>", "check only this network")
    .action((file: string, opts: { network?: string }) => {
      const graphs = opts.network
        ? [frontend(io, file, opts.network)]
        : (() => {
            const result = checkAllNetworks(file, nodeHost);
            report(io, result);
            return result.graphs;
          })();
      for (const g of graphs) {
        const outs = g.outputs.map((o) => o.name).join(", ");
        io.out(`ok: ${g.name}: ${g.nodes.length} layers, output ${outs}\n`);
      }
    });

  cnnc
    .command("summary")
    .description("per-layer shapes, parameters, MACs, receptive field and activation memory")
    .argument("<file>", "the .cnn file")
    .option(...networkOption)
    .option("--json", "print the report as JSON")
    .action((file: string, opts: { network?: string; json?: boolean }) => {
      const report = summarize(frontend(io, file, opts.network));
      io.out(
        opts.json ? JSON.stringify(summaryJson(report), null, 2) + "\n" : formatSummary(report),
      );
    });

  cnnc
    .command("ir")
    .description("print the network's IR (the compiler's intermediate form) as text")
    .argument("<file>", "the .cnn file")
    .option(...networkOption)
    .action((file: string, opts: { network?: string }) => {
      io.out(printIr(frontend(io, file, opts.network)));
    });

  return cnnc;
}

/** Runs the CLI on `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  try {
    await program(io).parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof UserError) return 1;
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
    const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
    io.err(`cnnc: internal error (a bug in cnnc, please report it with the input):\n${detail}\n`);
    return 2;
  }
}
