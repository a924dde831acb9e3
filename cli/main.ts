// `cnnc`: thin commands over the compiler. Exit codes: 0 done; 1 the user's input, files or
// device were wrong (one line, or the diagnostics); 2 cnnc itself failed (a bug: the only case
// with a stack trace). `isUserFacing` below is that rule.
import { Command, CommanderError, Option } from "commander";
import { bytes, formatSummary, summarize, summaryJson } from "../compiler/analysis/index.js";
import { compareOptimized } from "./compare.js";
import { compileGraph } from "../compiler/compile.js";
import { CompileError } from "../compiler/errors.js";
import { BundleError, RuntimeError } from "../runtime/index.js";
import { printIr } from "../compiler/ir/index.js";
import { checkAllNetworks } from "../compiler/lower/index.js";
import { buildGraph, emitParts, weightsFile } from "./build.js";
import { progress } from "./progress.js";
import { targets, type Layout, type Target } from "../compiler/codegen/index.js";
import { ExportError, exportOnnx, exportOpset, printCnn } from "../compiler/onnx/index.js";
import { writeSafetensors } from "../compiler/weights/index.js";
import { graphSvg } from "../compiler/viz/index.js";
import { basename } from "node:path";
import {
  bundleGraph,
  frontend,
  importModel,
  positiveInt,
  refuseBinary,
  type ModelFlags,
  report,
  seed,
  sourceGraph,
  terminalSafe,
  UserError,
  type Io,
  type SourceFlags,
} from "./common.js";
import { inspectCommand } from "./inspect.js";
import { nodeHost } from "./host.js";
import { addOptimizeOptions, optimize, type OptimizeOptions } from "./optimize.js";
import { writeOutput } from "./output.js";
import { runCommand, type RunOptions } from "./run.js";
import { trainingMemoryText } from "./train-command.js";
import { kernelFamilies, tuneCommand, type TuneCliOptions } from "./tune-command.js";
import {
  evalCommand,
  optimizerKinds,
  scheduleKinds,
  trainCommand,
  trainingBundleCommand,
  type EvalCliOptions,
  type OptimizerFlags,
  type TrainCliOptions,
} from "./train-command.js";

interface BuildCliOptions extends OptimizeOptions, OptimizerFlags {
  readonly train?: boolean;
  readonly target: Target | "any";
  readonly output?: string;
  readonly weights?: string;
  readonly seed: string;
  readonly emitDir?: string;
  readonly maxBinding?: string;
  readonly layout?: Layout;
  readonly network?: string;
  readonly useRoot?: string;
}

export type { Io } from "./common.js";

export const processIo: Io = {
  out: (t) => process.stdout.write(terminalSafe(t)),
  err: (t) => process.stderr.write(terminalSafe(t)),
};

/** `--adapter`: which WebGPU adapter a device command opens in Node. */
const adapterOption = (): Option =>
  new Option("--adapter <kind>", "WebGPU adapter in Node").choices([
    "auto",
    "gpu",
    "llvmpipe",
    "swiftshader",
  ]);

function program(io: Io): Command {
  const cnnc = new Command("cnnc")
    .description("Compile declarative CNN descriptions (.cnn) to WebGPU compute pipelines.")
    .version("0.1.0")
    .option("-q, --quiet", "print results only: no notes and no progress bars")
    .exitOverride()
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      // One line, as every user error: `cnnc: unknown option '--x' (Did you mean --y?) (...)`.
      outputError: (message, write) =>
        write(
          `cnnc: ${message
            .replace(/^error: /, "")
            .trim()
            .replace(/\s*\n\s*/g, " ")} (run 'cnnc help' for the commands)\n`,
        ),
    });
  // Progress bars (on a terminal) and --quiet, known once the command line is parsed.
  cnnc.hook("preAction", () => {
    io.quiet = cnnc.opts<{ quiet?: boolean }>().quiet === true;
    io.progress ??= progress({ quiet: io.quiet });
  });
  const f16Option = [
    "--f16",
    "store the weights as f16: half the bytes to download and to read; the kernels compute in f32 (scripts/f16-accuracy.mjs measures the loss)",
  ] as const;
  const networkOption = [
    "--network <name>",
    "which network, when the file declares several",
  ] as const;
  const useRootOption = [
    "--use-root <dir>",
    "let `use` read files below this folder (default: the .cnn file's own folder)",
  ] as const;
  // For an .onnx model: the shape of a dynamic input, and graph inputs that are weights.
  const inputShapeOption = [
    "--input-shape <spec...>",
    "an .onnx input's shape where the model leaves it open: name=1,3,320,320 (N stays open)",
  ] as const;
  const freezeOption = [
    "--freeze <spec...>",
    "an .onnx graph input the model uses as a weight, made a constant: name=file.npy",
  ] as const;

  cnnc
    .command("check")
    .description("parse a .cnn file and infer every shape of every network; report all errors")
    .argument("<file>", "the .cnn file")
    .option("--network <name>", "check only this network")
    .option(...useRootOption)
    .action((file: string, opts: SourceFlags) => {
      refuseBinary(file);
      const graphs = opts.network
        ? [frontend(io, file, opts)]
        : (() => {
            const result = checkAllNetworks(file, nodeHost, opts.useRoot);
            report(io, result);
            return result.graphs;
          })();
      for (const g of graphs) {
        const outs = g.outputs.map((o) => o.name).join(", ");
        io.out(`ok: ${g.name}: ${g.nodes.length} layers, output ${outs}\n`);
      }
    });

  cnnc
    .command("inspect")
    .description(
      "what a .cnnb bundle or an .onnx model holds: inputs, outputs, kernels, weights, tuning, op types",
    )
    .argument("<file>", "the .cnnb bundle or .onnx model")
    .option(...inputShapeOption)
    .option(...freezeOption)
    .action((file: string, opts: ModelFlags) => inspectCommand(io, file, opts));

  cnnc
    .command("summary")
    .description("per-layer shapes, parameters, MACs, receptive field and activation memory")
    .argument("<file>", "the .cnn file, an .onnx model or a .cnnb bundle")
    .option(...networkOption)
    .option(...useRootOption)
    .option(...inputShapeOption)
    .option(...freezeOption)
    .option("--json", "print the report as JSON")
    .option("--batch <n>", "count units, MACs, FLOPs and memory for this batch size", "1")
    .option("--depth <n>", "one row per block nested deeper than n, with its layers' sums")
    .option(
      "--optimized",
      "also compile, and compare dispatches, MACs and memory before and after the passes",
    )
    .option(
      "--train",
      "also the memory training takes on WebGPU beside inference's (activations kept, gradients, optimizer state)",
    );
  addOptimizeOptions(
    cnnc.commands.find((c) => c.name() === "summary")!,
    "2",
  ).action(
    (
      file: string,
      opts: OptimizeOptions &
        ModelFlags & {
          network?: string;
          useRoot?: string;
          json?: boolean;
          optimized?: boolean;
          train?: boolean;
          batch: string;
          depth?: string;
        },
    ) => {
      const batch = positiveInt(opts.batch, "--batch");
      const depth = opts.depth === undefined ? undefined : positiveInt(opts.depth, "--depth");
      const before = file.endsWith(".cnnb") ? bundleGraph(file) : sourceGraph(io, file, opts);
      const after = opts.optimized ? optimize(io, before, opts) : before;
      const report = summarize(after, { batch });
      const comparison = opts.optimized
        ? compareOptimized(before, after, `-O${opts.passes ? " (--passes)" : (opts.opt ?? "2")}`)
        : undefined;
      if (opts.json) {
        const json = summaryJson(report, depth === undefined ? {} : { depth }) as Record<
          string,
          unknown
        >;
        io.out(
          JSON.stringify(comparison ? { ...json, optimization: comparison.json } : json, null, 2) +
            "\n",
        );
      } else {
        io.out(
          formatSummary(report, depth === undefined ? {} : { depth }) +
            (comparison ? `\n${comparison.text}` : "") +
            (opts.train ? `\n${trainingMemoryText(before, batch)}` : ""),
        );
      }
    },
  );

  cnnc
    .command("ir")
    .description("print the network's IR (the compiler's intermediate form) as text")
    .argument("<file>", "the .cnn file")
    .option(...networkOption)
    .option(...useRootOption);
  addOptimizeOptions(
    cnnc.commands.find((c) => c.name() === "ir")!,
    "0",
  ).action((file: string, opts: OptimizeOptions & { network?: string }) => {
    const graph = optimize(io, frontend(io, file, opts), opts);
    if (opts.dumpIr === undefined) io.out(printIr(graph));
  });

  addOptimizeOptions(
    cnnc
      .command("build")
      .description(
        "compile a .cnn network to a .cnnb bundle (WGSL kernels, dispatch plan, weights)",
      )
      .argument("<file>", "the .cnn file, or an .onnx model (its weights come with it)")
      .option("-o, --output <file>", "the bundle to write (default: <network>.cnnb)")
      .option("--weights <file>", "trained weights, a .safetensors file keyed by layer path")
      .option("--seed <n>", "seed of the generated weights when --weights is not given", "0")
      .option(
        "--emit-dir <dir>",
        "also write the IR, the plan, each kernel and the weights as files",
      )
      .option("--max-binding <bytes>", "largest storage binding of the target (default 134217728)")
      .addOption(
        new Option(
          "--layout <layout>",
          "store every activation that may be either layout in this one (default: each as its readers' kernels ask; cnnc tune measures them)",
        ).choices(["nchw", "nhwc"]),
      )
      .addOption(
        new Option(
          "--target <class>",
          "whose default kernels: a GPU's, a CPU emulation's (llvmpipe, SwiftShader), or any: both, the runtime taking its adapter's at load",
        )
          .choices([...targets, "any"])
          .default("gpu"),
      )
      .option(
        "--no-quick-start",
        "no quick start for CPU emulations (kernels quick to compile that give a large network's first results while its own compile)",
      )
      .option(...f16Option)
      .option(...networkOption)
      .option(...useRootOption)
      .option(...inputShapeOption)
      .option(...freezeOption)
      .option("--verbose", "also print what each optimisation pass did")
      .option(
        "--train",
        "write a training bundle instead (default <network>.train.cnnb): loadTrainer trains it in a page",
      )
      .addOption(
        new Option("--optimizer <kind>", "with --train: the update rule")
          .choices(optimizerKinds)
          .default("adam"),
      )
      .option("--lr <rate>", "with --train: learning rate (default 0.05 for sgd, 0.001 for adam)")
      .option("--momentum <m>", "with --train: sgd's momentum (default 0.9)")
      .option("--weight-decay <d>", "with --train: L2 penalty, or adamw's decoupled decay"),
    "2",
  ).action((file: string, opts: BuildCliOptions & { verbose?: boolean }) => {
    if (opts.train) return trainingBundleCommand(io, file, opts);
    const graph = sourceGraph(io, file, opts);
    const built = buildGraph(io, graph, opts);
    const out = opts.output ?? `${graph.name}.cnnb`;
    writeOutput(out, built.bytes, [file, ...(opts.weights ? [opts.weights] : [])]);
    if (opts.emitDir) emitParts(opts.emitDir, built);
    const p = built.plan;
    const nhwc = p.values.filter((v) => v.layout === "nhwc" && !v.alias).length;
    io.out(
      `wrote ${out}: ${p.kernels.length} kernels, ${p.dispatches.length} dispatches, ${built.bytes.length.toLocaleString("en-US")} bytes, ${bytes(p.arena * 4)} of activations per batch item${nhwc ? `, ${nhwc} of ${p.values.length} values NHWC` : ""}${built.cpuPlan ? `; for CPU emulations ${built.cpuPlan.kernels.length} kernels, ${built.cpuPlan.dispatches.length} dispatches` : ""}${built.quickPlan ? `; a quick start of ${built.quickPlan.kernels.length} kernels` : ""}\n`,
    );
    if (opts.verbose) for (const line of built.report) io.out(`  ${line}\n`);
    for (const w of built.warnings)
      io.err(
        `cnnc: warning: beyond WebGPU's default limits at batch 1: ${terminalSafe(w)}; the bundle loads only on devices that raise them\n`,
      );
  });

  cnnc
    .command("import")
    .description("read an ONNX model as a .cnn network and a .safetensors file of its weights")
    .argument("<model>", "the .onnx model")
    .option(
      "-o, --output <file>",
      "the .cnn file to write (default: <network>.cnn); weights go beside it",
    )
    .option(...inputShapeOption)
    .option(...freezeOption)
    .action((file: string, opts: { output?: string } & ModelFlags) => {
      const lines: string[] = [];
      const graph = importModel(file, opts, (line) => lines.push(line));
      const out = opts.output ?? `${graph.name}.cnn`;
      const weightsFile = out.replace(/\.cnn$/, "") + ".safetensors";
      writeOutput(
        out,
        printCnn(
          graph,
          `Imported from ${basename(file)} by cnnc. Weights: ${basename(weightsFile)}, by layer path.`,
        ),
        [file],
      );
      const tensors = new Map(
        graph.weights.map((w) => [w.name, { shape: w.shape, data: graph.constants!.get(w.name)! }]),
      );
      writeOutput(weightsFile, writeSafetensors(tensors), [file]);
      io.out(
        `wrote ${out} (${graph.nodes.length} layers) and ${weightsFile} (${tensors.size} tensors)\n`,
      );
      for (const line of lines) io.out(`  ${terminalSafe(line)}\n`);
    });

  cnnc
    .command("export")
    .description("write the network and its weights as an ONNX model (opset 17)")
    .argument("<file>", "the .cnn file")
    .option("-o, --output <file>", "the model to write (default: <network>.onnx)")
    .option("--weights <file>", "trained weights, a .safetensors file keyed by layer path")
    .option("--seed <n>", "seed of the generated weights when --weights is not given", "0")
    .option(...networkOption)
    .option(...useRootOption)
    .action(
      (
        file: string,
        opts: { output?: string; weights?: string; seed: string; network?: string },
      ) => {
        const graph = frontend(io, file, opts);
        // The weights as the driver binds them (given, checked, or generated from the seed).
        const { source } = compileGraph(graph, {
          ...(opts.weights
            ? { weights: weightsFile(opts.weights), weightsSource: `'${opts.weights}'` }
            : {}),
          seed: seed(opts.seed),
          passesOnly: true,
          opt: 0,
        });
        const weights = source.constants!;
        let bytes: Uint8Array;
        try {
          bytes = exportOnnx({ ...graph, constants: weights });
        } catch (e) {
          if (e instanceof ExportError) throw new UserError(e.message);
          throw e;
        }
        const out = opts.output ?? `${graph.name}.onnx`;
        writeOutput(out, bytes, [file, ...(opts.weights ? [opts.weights] : [])]);
        io.out(
          `wrote ${out}: ONNX opset ${exportOpset}, ${bytes.length.toLocaleString("en-US")} bytes\n`,
        );
      },
    );

  addOptimizeOptions(
    cnnc
      .command("graph")
      .description("draw the network as an SVG: layers, branches, shapes on the edges")
      .argument("<file>", "the .cnn file, or an .onnx model")
      .option("-o, --output <file>", "the SVG to write (default: <network>.svg)")
      .option(...networkOption)
      .option(...useRootOption)
      .option(...inputShapeOption)
      .option(...freezeOption),
    "0",
  ).action(
    (
      file: string,
      opts: OptimizeOptions & { network?: string; useRoot?: string; output?: string },
    ) => {
      const graph = optimize(io, sourceGraph(io, file, opts), opts);
      const out = opts.output ?? `${graph.name}.svg`;
      writeOutput(out, graphSvg(graph), [file]);
      io.out(`wrote ${out}: ${graph.nodes.length} layers\n`);
    },
  );

  addOptimizeOptions(
    cnnc
      .command("tune")
      .description(
        "measure each layer's candidate kernels (GEMM tiles, Winograd, split-K, depthwise runs, GEMV; each conv reading NCHW and NHWC) on this adapter; write a bundle built with the fastest",
      )
      .argument("<file>", "the .cnn file, or an .onnx model")
      .option("-o, --output <file>", "the bundle to write (default: <network>.tuned.cnnb)")
      .option("--weights <file>", "trained weights, a .safetensors file keyed by layer path")
      .option("--seed <n>", "seed of the generated weights when --weights is not given", "0")
      .option("--runs <n>", "timed runs per candidate (median)", "3")
      .option("--batch <n>", "the batch size to measure at", "1")
      .option(
        "--verbose",
        "print every candidate's time, not only the winner's, and what a helper process compiled ahead (llvmpipe; CNNC_TUNE_AHEAD=0 turns it off)",
      )
      .option(
        "--exhaustive",
        "measure every candidate (default: in the cost model's order until two in a row are no faster)",
      )
      .option(
        "--record <file>",
        "add every candidate's time per layer to this cost-model data file (implies --exhaustive)",
      )
      .option(
        "--kernels <families>",
        `measure only these kernel families, comma-separated (${kernelFamilies.join(", ")}); each layer's default kernel is measured too`,
      )
      .addOption(
        new Option(
          "--layout <layout>",
          "give every conv that may read either layout a kernel reading this one (default: measure both)",
        ).choices(["nchw", "nhwc"]),
      )
      .option(...f16Option)
      .addOption(adapterOption())
      .option(...networkOption)
      .option(...useRootOption)
      .option(...inputShapeOption)
      .option(...freezeOption),
    "2",
  ).action(async (file: string, opts: TuneCliOptions) => tuneCommand(io, file, opts));

  cnnc
    .command("run")
    .description(
      "run a .cnnb bundle (or a .cnn network) on WebGPU, or on the CPU reference with --cpu",
    )
    .argument("<model>", "a .cnnb bundle or a .cnn file")
    .option("--input <spec...>", "'random', a .npy file, or name=file.npy per input", [])
    .option("--batch <n>", "batch size (default: the .npy's first dimension, or 1)")
    .option("--cpu", "run on the reference interpreter (float64) instead of WebGPU")
    .option("--output <file>", "write the first output (or name=file) as .npy")
    .option(
      "--bench <n>",
      "also time n more runs: median latency, then with the input already on the GPU, and the GPU work alone",
    )
    .addOption(adapterOption())
    .option("--seed <n>", "seed of random inputs (and of weights for a .cnn)", "0")
    .option("--weights <file>", "for a .cnn: trained weights (.safetensors)")
    .option("--top <k>", "how many top classes to print per sample", "5")
    .option(...networkOption)
    .option(...useRootOption)
    .option(...inputShapeOption)
    .option(...freezeOption);
  addOptimizeOptions(
    cnnc.commands.find((c) => c.name() === "run")!,
    "2",
  ).action(async (file: string, opts: RunOptions) => runCommand(io, file, opts));

  cnnc
    .command("train")
    .description(
      "train a network on labelled images (IDX files as MNIST ships them, or x.npy/y.npy) and write its weights",
    )
    .argument("<file>", "the .cnn file (or an .onnx model) whose output scores the classes")
    .requiredOption(
      "--data <dir>",
      "the folder of the data (e.g. /usr/share/datasets/fashion-mnist)",
    )
    .option("-o, --output <file>", "the weights to write (default: <network>.safetensors)")
    .option("--epochs <n>", "passes over the training items", "5")
    .option("--batch <n>", "items per step", "32")
    .addOption(
      new Option("--optimizer <kind>", "the update rule").choices(optimizerKinds).default("adam"),
    )
    .option("--lr <rate>", "learning rate (default: 0.05 for sgd, 0.001 for adam and adamw)")
    .option("--momentum <m>", "sgd's momentum (default 0.9)")
    .option("--weight-decay <d>", "L2 penalty (sgd, adam) or decoupled decay (adamw, default 0.01)")
    .addOption(
      new Option("--schedule <kind>", "learning rate over the run")
        .choices(scheduleKinds)
        .default("constant"),
    )
    .option("--seed <n>", "seed of the initial weights, the shuffling and dropout", "0")
    .option(
      "--val <n>",
      "training items held out to validate each epoch (default: a tenth, at most 5000)",
    )
    .option("--limit <n>", "train on the first n items only")
    .option(
      "--weights <file>",
      "start from these weights (.safetensors) instead of He/Glorot draws",
    )
    .option("--checkpoint <file>", "write weights and optimizer state here after every epoch")
    .option("--resume <file>", "continue from a checkpoint")
    .option("--plot <file>", "write the loss and accuracy curves as an SVG")
    .option("--cpu", "train on the CPU reference (float64) instead of WebGPU")
    .addOption(adapterOption())
    .option(...networkOption)
    .option(...useRootOption)
    .option(...inputShapeOption)
    .option(...freezeOption)
    .action(async (file: string, opts: TrainCliOptions) => trainCommand(io, file, opts));

  cnnc
    .command("eval")
    .description(
      "accuracy and the confusion matrix of trained weights on a data folder's test split",
    )
    .argument("<file>", "the .cnn file (or an .onnx model)")
    .requiredOption("--data <dir>", "the folder of the data")
    .requiredOption("--weights <file>", "the trained weights (.safetensors)")
    .option("--batch <n>", "items per forward pass", "100")
    .addOption(
      new Option("--split <which>", "which items").choices(["test", "train"]).default("test"),
    )
    .option("--cpu", "run on the CPU reference (float64) instead of WebGPU")
    .addOption(adapterOption())
    .option(...networkOption)
    .option(...useRootOption)
    .option(...inputShapeOption)
    .option(...freezeOption)
    .action(async (file: string, opts: EvalCliOptions) => evalCommand(io, file, opts));

  return cnnc;
}

/** Runs the CLI on `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[], given: Io = processIo): Promise<number> {
  const io: Io = { ...given }; // (--quiet and the progress bar are this run's)
  try {
    await program(io).parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    io.progress?.done();
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
    // The one rule (compiler/errors.ts): the user's, their input's or their device's problem
    // is one line and exit 1; anything else is a bug in cnnc, exit 2 with the stack.
    if (isUserFacing(e)) {
      if (e.message) io.err(`cnnc: ${e.message}\n`);
      return 1;
    }
    const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
    io.err(`cnnc: internal error (a bug in cnnc, please report it with the input):\n${detail}\n`);
    return 2;
  }
}

/** Errors that are not bugs: what the user, the input files or the device got wrong. */
export function isUserFacing(e: unknown): e is Error {
  return (
    e instanceof UserError ||
    e instanceof CompileError ||
    e instanceof RuntimeError ||
    e instanceof BundleError
  );
}
