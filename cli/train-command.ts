// `cnnc train` and `cnnc eval`: training a network on labelled images from a folder (IDX files
// as MNIST and Fashion-MNIST ship them, gzipped or not, or x.npy / y.npy pairs), and measuring
// trained weights on its test split. The weights written are keyed by layer path, running
// statistics included: `cnnc build --weights` and `cnnc export` take them unchanged.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Graph } from "../compiler/ir/graph.js";
import { dataset, fitInput, readIdx, split, type Dataset } from "../compiler/train/data.js";
import { trainingGraph, type TrainGraph } from "../compiler/train/graph.js";
import { trainingMemory, trainingPlan } from "../compiler/train/plan.js";
import { bytes } from "../compiler/analysis/format.js";
import { planGraph } from "../compiler/codegen/plan.js";
import type { Target } from "../compiler/codegen/choice.js";
import { GpuTrainer } from "../runtime/trainer.js";
import { nodeDevice, type AdapterChoice } from "../runtime/node-device.js";
import { trainingInit } from "../compiler/train/init.js";
import {
  defaultLr,
  optimizerKinds,
  scheduleKinds,
  type OptimizerConfig,
  type OptimizerKind,
  type ScheduleKind,
} from "../compiler/train/optim.js";
import {
  evaluate,
  ReferenceTrainer,
  trainLoop,
  type EpochReport,
  type Evaluation,
  type Trainer,
} from "../compiler/train/trainer.js";
import { trainingPlot } from "../compiler/viz/train-plot.js";
import { bindWeights, WeightsError } from "../compiler/weights/bind.js";
import { writeTrainingBundle } from "../compiler/bundle/write.js";
import { writeSafetensors, type NamedTensor } from "../compiler/weights/safetensors.js";
import { weightsFile } from "./build.js";
import { positiveInt, seed, sourceGraph, UserError, type Io, type SourceFlags } from "./common.js";
import { NpyError, readNpy } from "./npy.js";
import { writeOutput } from "./output.js";

export interface OptimizerFlags {
  readonly optimizer: OptimizerKind;
  readonly lr?: string;
  readonly momentum?: string;
  readonly weightDecay?: string;
}

export interface TrainCliOptions extends SourceFlags, OptimizerFlags {
  readonly data: string;
  readonly output?: string;
  readonly epochs: string;
  readonly batch: string;
  readonly schedule: ScheduleKind;
  readonly seed?: string;
  readonly val?: string;
  readonly limit?: string;
  readonly weights?: string;
  readonly checkpoint?: string;
  readonly resume?: string;
  readonly plot?: string;
  readonly cpu?: boolean;
  readonly adapter?: AdapterChoice;
}

export interface EvalCliOptions extends SourceFlags {
  readonly data: string;
  readonly weights: string;
  readonly batch: string;
  readonly split: "test" | "train";
  readonly cpu?: boolean;
  readonly adapter?: AdapterChoice;
}

export { optimizerKinds, scheduleKinds };

function readFile(path: string): Uint8Array {
  try {
    const bytes = readFileSync(path);
    return path.endsWith(".gz") ? gunzipSync(bytes) : bytes;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === undefined)
      throw new UserError(`'${path}' is not a readable gzip file`);
    throw new UserError(`cannot read '${path}'`);
  }
}

/** The first of the names that exists in the folder (each also with .gz). */
function find(dir: string, names: readonly string[]): string | undefined {
  for (const n of names)
    for (const f of [n, `${n}.gz`]) if (existsSync(join(dir, f))) return join(dir, f);
  return undefined;
}

type Split = "train" | "test";

/** A split of the data folder: IDX files or .npy pairs; undefined where the folder has none. */
function readSplit(dir: string, which: Split, classes: number): Dataset | undefined {
  const idx = which === "train" ? "train" : "t10k";
  const images = find(dir, [`${idx}-images-idx3-ubyte`, `${idx}-images.idx3-ubyte`]);
  const labels = find(dir, [`${idx}-labels-idx1-ubyte`, `${idx}-labels.idx1-ubyte`]);
  try {
    if (images && labels)
      return dataset(
        readIdx(readFile(images), images),
        readIdx(readFile(labels), labels),
        classes,
        images,
      );
    const [xn, yn] = which === "train" ? ["x.npy", "y.npy"] : ["x_test.npy", "y_test.npy"];
    const [x, y] = [join(dir, xn), join(dir, yn)];
    if (existsSync(x) && existsSync(y)) {
      const xa = readNpy(readFile(x), x);
      const ya = readNpy(readFile(y), y);
      return dataset(
        { dims: xa.shape, data: xa.data, bytes: xa.dtype === "|u1" },
        { dims: ya.shape, data: ya.data },
        classes,
        x,
      );
    }
  } catch (e) {
    if (e instanceof NpyError) throw new UserError(e.message);
    throw e;
  }
  return undefined;
}

function dataOf(dir: string, which: Split, classes: number, required: boolean) {
  if (!existsSync(dir)) throw new UserError(`the data folder '${dir}' does not exist`);
  const d = readSplit(dir, which, classes);
  if (!d && required)
    throw new UserError(
      which === "train"
        ? `'${dir}' has no training data: train-images-idx3-ubyte and train-labels-idx1-ubyte (or .gz), or x.npy and y.npy`
        : `'${dir}' has no test data: t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (or .gz), or x_test.npy and y_test.npy`,
    );
  return d;
}

function positiveNumber(text: string | undefined, what: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!(Number.isFinite(n) && n >= 0))
    throw new UserError(`${what} must be a number >= 0, got '${text}'`);
  return n;
}

/** Weights from a file, checked against the network (each missing or extra one named). */
function bound(graph: Graph, tensors: ReadonlyMap<string, NamedTensor>, file: string) {
  try {
    return bindWeights(graph, tensors, `'${file}'`);
  } catch (e) {
    if (e instanceof WeightsError)
      throw new UserError(`the weights do not fit the network:\n  ${e.problems.join("\n  ")}`);
    throw e;
  }
}

const percent = (v: number) => `${(v * 100).toFixed(1)}%`;

function epochLine(r: EpochReport, epochs: number): string {
  const val = r.valAccuracy === undefined ? "-" : percent(r.valAccuracy);
  return `${`${r.epoch}/${epochs}`.padEnd(7)}${r.loss.toFixed(4).padEnd(8)}${percent(r.accuracy).padEnd(11)}${val.padEnd(9)}${Math.round(r.imagesPerSecond).toString().padEnd(10)}${`${r.seconds.toFixed(1)} s`.padEnd(9)}${r.lr.toPrecision(3)}\n`;
}

/**
 * The trainer: WebGPU (the adapter's class picks the forward kernels), or the float64
 * reference with --cpu (the oracle: every op trains on both).
 */
async function makeTrainer(
  graph: Graph,
  tg: TrainGraph,
  initial: ReadonlyMap<string, Float32Array>,
  config: OptimizerConfig,
  opts: TrainCliOptions | EvalCliOptions,
): Promise<{ trainer: Trainer; where: string; dispose: () => void }> {
  if (opts.cpu)
    return {
      trainer: new ReferenceTrainer(graph, initial, config),
      where: "the CPU reference (float64)",
      dispose: () => {},
    };
  const gpu = await nodeDevice(
    (opts.adapter ?? process.env.CNNC_ADAPTER ?? "auto") as AdapterChoice,
  );
  const target: Target = gpu.kind === "gpu" ? "gpu" : "cpu";
  const plan = trainingPlan(tg, { optimizer: config, target });
  const trainer = await GpuTrainer.create(plan, initial, config, gpu.device, gpu);
  return { trainer, where: gpu.adapter, dispose: () => trainer.dispose() };
}

/** The optimiser the flags say: --optimizer, --lr, --momentum, --weight-decay. */
function optimizerOf(opts: OptimizerFlags): OptimizerConfig {
  return {
    kind: opts.optimizer,
    lr: positiveNumber(opts.lr, "--lr", defaultLr[opts.optimizer]),
    ...(opts.momentum !== undefined
      ? { momentum: positiveNumber(opts.momentum, "--momentum", 0.9) }
      : {}),
    ...(opts.weightDecay !== undefined
      ? { weightDecay: positiveNumber(opts.weightDecay, "--weight-decay", 0) }
      : {}),
  };
}

export interface TrainingBundleOptions extends SourceFlags, OptimizerFlags {
  readonly output?: string;
  readonly weights?: string;
  readonly seed: string;
  readonly target: Target | "any";
  /** Refused: a training bundle's weights are f32 (BuildOptions.f16). */
  readonly f16?: boolean;
}

/**
 * `cnnc build --train`: a training bundle (runtime/train-format.ts) of the network, its
 * optimiser and its initial weights (given, or He/Glorot draws), for `loadTrainer` in a page
 * or in Node. Its forward kernels are the target class's.
 */
export function trainingBundleCommand(io: Io, file: string, opts: TrainingBundleOptions): void {
  if (opts.f16)
    throw new UserError(
      "--f16 stores an inference bundle's weights as halves; a training bundle updates f32 weights (build without --f16)",
    );
  if (opts.target !== "gpu" && opts.target !== "cpu")
    throw new UserError(
      `a training bundle holds one class of kernels: --target gpu or cpu, not '${opts.target}'`,
    );
  const graph = sourceGraph(io, file, opts);
  const tg = trainingGraph(graph);
  const config = optimizerOf(opts);
  const initial = opts.weights
    ? bound(tg.graph, weightsFile(opts.weights), opts.weights)
    : trainingInit(tg.graph, seed(opts.seed));
  const plan = trainingPlan(tg, { optimizer: config, target: opts.target });
  const bundle = writeTrainingBundle(plan, initial, config);
  const out = opts.output ?? `${graph.name}.train.cnnb`;
  writeOutput(out, bundle, [file, ...(opts.weights ? [opts.weights] : [])]);
  const steps = plan.forward.length + plan.loss.length + plan.backward.length + plan.update.length;
  const m = trainingMemory(plan, 32);
  io.out(
    `wrote ${out}: a training bundle, ${plan.kernels.length} kernels, ${steps} dispatches a step, ${tg.params.length} trained weight tensors (${config.kind} lr ${config.lr}), ${bundle.length.toLocaleString("en-US")} bytes; ${bytes(m.totalBytes)} on the device at batch 32\n`,
  );
}

export async function trainCommand(io: Io, file: string, opts: TrainCliOptions): Promise<void> {
  const graph = sourceGraph(io, file, opts);
  const tg = trainingGraph(graph);
  const input = tg.graph.inputs[0]!;
  const epochs = positiveInt(opts.epochs, "--epochs");
  const batch = positiveInt(opts.batch, "--batch");
  const s = seed(opts.seed);
  const all = fitInput(dataOf(opts.data, "train", tg.classes, true)!, input.shape, opts.data);
  const items = opts.limit
    ? split(all, Math.min(all.count, positiveInt(opts.limit, "--limit")))[0]
    : all;
  // held out from the end of the training items: a tenth, at most 5000, unless said
  const valCount =
    opts.val === undefined
      ? Math.min(5000, Math.floor(items.count / 10))
      : opts.val === "0"
        ? 0
        : positiveInt(opts.val, "--val");
  if (valCount >= items.count)
    throw new UserError(`--val ${valCount} leaves no training items (there are ${items.count})`);
  const [train, val] = valCount ? split(items, items.count - valCount) : [items, undefined];
  const config = optimizerOf(opts);
  const lr = config.lr;
  // Where training starts: a checkpoint (weights, optimizer state, epochs done), given
  // weights, or He/Glorot draws.
  let startEpoch = 0;
  let initial: ReadonlyMap<string, Float32Array>;
  let resumed: ReadonlyMap<string, NamedTensor> | undefined;
  if (opts.resume) {
    resumed = weightsFile(opts.resume);
    const done = resumed.get("train.epoch")?.data[0];
    if (done === undefined)
      throw new UserError(
        `'${opts.resume}' is not a cnnc train checkpoint (it has no train.epoch)`,
      );
    const own = [...resumed].filter(
      ([k]) => !k.startsWith("optimizer.") && !k.startsWith("train."),
    );
    initial = bound(tg.graph, new Map(own), opts.resume);
    startEpoch = done;
    if (startEpoch >= epochs)
      throw new UserError(
        `'${opts.resume}' has done ${startEpoch} epochs already (--epochs ${epochs})`,
      );
  } else if (opts.weights) initial = bound(tg.graph, weightsFile(opts.weights), opts.weights);
  else initial = trainingInit(tg.graph, s);
  const { trainer, where, dispose } = await makeTrainer(graph, tg, initial, config, opts);
  try {
    if (resumed) trainer.restoreOptimizer(new Map([...resumed].map(([k, t]) => [k, t.data])));
    await run(trainer, where);
  } finally {
    dispose();
  }

  async function run(t: Trainer, on: string): Promise<void> {
    io.out(
      `training ${graph.name} on ${on}: ${train.count.toLocaleString("en-US")} items (${valCount.toLocaleString("en-US")} held out), ${tg.params.length} weight tensors, ${opts.optimizer} lr ${lr}, batch ${batch}, ${opts.schedule} schedule\n`,
    );
    io.out("epoch  loss    train acc  val acc  images/s  time     lr\n");
    const reports: EpochReport[] = [];
    await trainLoop(
      t,
      train,
      valCount ? val : undefined,
      { lr, epochs, batch, seed: s, schedule: { kind: opts.schedule }, startEpoch },
      {
        onBatch: (done, total, loss) =>
          io.progress?.update(
            `epoch ${reports.length + startEpoch + 1}/${epochs}`,
            done,
            total,
            `loss ${loss.toFixed(3)}`,
          ),
        onEpoch: async (r) => {
          io.progress?.done();
          reports.push(r);
          io.out(epochLine(r, epochs));
          if (opts.checkpoint) {
            const state = named(await t.weights());
            for (const [k, data] of await t.optimizerState())
              state.set(k, { shape: [data.length], data });
            state.set("train.epoch", { shape: [1], data: Float32Array.of(r.epoch) });
            writeOutput(opts.checkpoint, writeSafetensors(state), [file]);
          }
        },
      },
    );
    const out = opts.output ?? `${graph.name.toLowerCase()}.safetensors`;
    writeOutput(out, writeSafetensors(named(await t.weights())), [file, opts.data]);
    const test = dataOf(opts.data, "test", tg.classes, false);
    const tested = test
      ? await evaluate(t, fitInput(test, input.shape, opts.data), batch)
      : undefined;
    io.out(
      `wrote ${out}${tested ? `; test accuracy ${percent(tested.accuracy)} (${test!.count.toLocaleString("en-US")} items)` : ""}\n`,
    );
    if (opts.plot && reports.length) {
      writeOutput(
        opts.plot,
        trainingPlot(reports, `${graph.name}: ${opts.optimizer}, batch ${batch}`),
        [file],
      );
      io.out(`wrote ${opts.plot}\n`);
    }
  }

  function named(w: Map<string, Float32Array>): Map<string, NamedTensor> {
    const shapes = new Map(tg.graph.weights.map((d) => [d.name, d.shape]));
    return new Map([...w].map(([k, v]) => [k, { shape: shapes.get(k) ?? [v.length], data: v }]));
  }
}

/** The confusion matrix as a table: rows the true class, columns the predicted one. */
export function confusionTable(e: Evaluation): string {
  const k = e.classes;
  const width = Math.max(5, ...Array.from(e.confusion, (v) => String(v).length + 1));
  const head =
    "true\\pred".padEnd(10) +
    Array.from({ length: k }, (_, c) => String(c).padStart(width)).join("");
  const rows = Array.from({ length: k }, (_, r) => {
    const cells = Array.from({ length: k }, (_, c) =>
      String(e.confusion[r * k + c]).padStart(width),
    );
    let n = 0;
    for (let c = 0; c < k; c++) n += e.confusion[r * k + c]!;
    const recall = n ? percent(e.confusion[r * k + r]! / n) : "-";
    return String(r).padEnd(10) + cells.join("") + `  ${recall}`;
  });
  return [head + "  recall", ...rows].join("\n") + "\n";
}

export async function evalCommand(io: Io, file: string, opts: EvalCliOptions): Promise<void> {
  const graph = sourceGraph(io, file, opts);
  const tg = trainingGraph(graph);
  const batch = positiveInt(opts.batch, "--batch");
  const data = dataOf(opts.data, opts.split, tg.classes, true)!;
  const items = fitInput(data, tg.graph.inputs[0]!.shape, opts.data);
  const weights = bound(tg.graph, weightsFile(opts.weights), opts.weights);
  const { trainer, dispose } = await makeTrainer(graph, tg, weights, { kind: "sgd", lr: 0 }, opts);
  let e: Evaluation;
  try {
    e = await evaluate(trainer, items, batch);
  } finally {
    dispose();
  }
  io.out(
    `${graph.name} on the ${opts.split} split of ${opts.data} (${items.count.toLocaleString("en-US")} items): accuracy ${percent(e.accuracy)}\n`,
  );
  io.out(confusionTable(e));
}

/**
 * `summary --train`: the memory of training on WebGPU (Adam; activations and their gradients
 * in one arena planned over the step) beside inference's (the -O0 plan's values, its planned
 * arena and its weights), at a batch size.
 */
export function trainingMemoryText(graph: Graph, batch: number): string {
  const tg = trainingGraph(graph);
  const m = trainingMemory(trainingPlan(tg, { optimizer: { kind: "adam", lr: 0.001 } }), batch);
  const inference = planGraph(tg.graph, { planMemory: true });
  const kept = inference.values.filter((v) => !v.alias).reduce((n, v) => n + v.perBatch, 0);
  const weights = tg.graph.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0) * 4;
  const arena = inference.arena * batch * 4;
  const rows: [string, string, string][] = [
    ["activations", bytes(kept * batch * 4), bytes(m.activationBytes)],
    ["activation gradients", "-", bytes(m.gradientBytes)],
    ["arena (planned)", bytes(arena), bytes(m.arenaBytes)],
    ["weights", bytes(weights), bytes(m.weightBytes)],
    ["weight gradients", "-", bytes(m.weightGradientBytes)],
    ["optimizer (Adam)", "-", bytes(m.optimizerBytes)],
    ["total", bytes(arena + weights), bytes(m.totalBytes)],
  ];
  const w = [22, 12];
  return (
    `${`memory at batch ${batch}`.padEnd(w[0]!)}${"inference".padEnd(w[1]!)}training\n` +
    rows.map(([a, b, c]) => `${a.padEnd(w[0]!)}${b.padEnd(w[1]!)}${c}`).join("\n") +
    "\n(the arena holds the values, sharing memory once a value's last reader has run: in training an activation lives until its layer's backward pass, a gradient until it has reached the layer's inputs)\n"
  );
}
