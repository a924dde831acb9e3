// Training: a trainer takes optimisation steps on batches and predicts; the loop runs epochs
// of seeded shuffled batches under a learning-rate schedule and reports each epoch. The
// reference trainer computes on the CPU in float64 (compiler/train/reference.ts).
import type { Graph } from "../ir/graph.js";
import { random } from "../weights/init.js";
import { gather, shuffled, type Dataset } from "./data.js";
import { trainingGraph, type TrainGraph } from "./graph.js";
import { learningRate, Optimizer, type OptimizerConfig, type Schedule } from "./optim.js";
import { backwardPass, crossEntropy, forwardPass } from "./reference.js";

export interface StepSums {
  /** Mean cross-entropy of the items since the sums were last reset. */
  readonly loss: number;
  readonly correct: number;
  readonly items: number;
}

/**
 * What trains: the reference (here, on the CPU) or the WebGPU trainer (runtime/trainer.ts).
 * Steps may queue (a GPU's do); `sums` and `predict` wait for the steps before them.
 */
export interface Trainer {
  readonly classes: number;
  /** Optimiser steps taken (a resumed run continues the count). */
  readonly stepCount: number;
  /** One optimisation step on a batch of items and their labels at learning rate `lr`. */
  step(x: Float32Array, labels: ArrayLike<number>, lr: number, seed: number): void;
  /** The loss and hits summed over the steps since the last reset. */
  sums(reset?: boolean): StepSums | Promise<StepSums>;
  /** The scores of a batch in inference mode (running statistics, no dropout). */
  predict(x: Float32Array, batch: number): ArrayLike<number> | Promise<ArrayLike<number>>;
  /** Every weight as training left it: trained ones and running statistics. */
  weights(): Map<string, Float32Array> | Promise<Map<string, Float32Array>>;
  /** The optimiser's state (`optimizer.step`, `optimizer.<weight>.<slot>`): a checkpoint's. */
  optimizerState(): Map<string, Float32Array> | Promise<Map<string, Float32Array>>;
  restoreOptimizer(state: ReadonlyMap<string, Float32Array>): void;
}

/** Training on the CPU in float64, op by op: the oracle, and `cnnc train --cpu`. */
export class ReferenceTrainer implements Trainer {
  readonly graph: TrainGraph;
  readonly optimizer: Optimizer;
  private readonly values: Map<string, Float32Array>;
  private readonly input: string;
  private total = { loss: 0, correct: 0, items: 0 };

  constructor(source: Graph, weights: ReadonlyMap<string, Float32Array>, config: OptimizerConfig) {
    this.graph = trainingGraph(source);
    this.optimizer = new Optimizer(config);
    this.values = new Map([...weights].map(([k, v]) => [k, Float32Array.from(v)]));
    this.input = this.graph.graph.inputs[0]!.name;
  }

  get classes(): number {
    return this.graph.classes;
  }

  get stepCount(): number {
    return this.optimizer.stepCount;
  }

  step(x: Float32Array, labels: ArrayLike<number>, lr: number, seed: number): void {
    const batch = labels.length;
    const pass = forwardPass(this.graph, this.values, { [this.input]: x }, batch, {
      training: true,
      random: random(seed),
    });
    const loss = crossEntropy(this.graph, pass, labels);
    const grads = backwardPass(
      this.graph,
      this.values,
      pass,
      new Map([[this.graph.logits, loss.dlogits]]),
    );
    const params = new Map(this.graph.params.map((p) => [p.name, this.values.get(p.name)!]));
    this.optimizer.step(params, grads.weights, lr);
    for (const [name, s] of pass.stats) this.values.set(name, s);
    this.total.loss += loss.loss * batch;
    this.total.correct += loss.correct;
    this.total.items += batch;
  }

  sums(reset = false): StepSums {
    const t = this.total;
    const out = { loss: t.items ? t.loss / t.items : 0, correct: t.correct, items: t.items };
    if (reset) this.total = { loss: 0, correct: 0, items: 0 };
    return out;
  }

  predict(x: Float32Array, batch: number): Float64Array {
    const pass = forwardPass(this.graph, this.values, { [this.input]: x }, batch, {
      training: false,
    });
    return pass.values.get(this.graph.logits)!;
  }

  weights(): Map<string, Float32Array> {
    return new Map([...this.values].map(([k, v]) => [k, Float32Array.from(v)]));
  }

  optimizerState(): Map<string, Float32Array> {
    return new Map([...this.optimizer.state()].map(([k, t]) => [k, t.data]));
  }

  restoreOptimizer(state: ReadonlyMap<string, Float32Array>): void {
    this.optimizer.restore(
      new Map([...state].map(([k, data]) => [k, { shape: [data.length], data }])),
    );
  }
}

export function argmax(scores: ArrayLike<number>, batch: number, classes: number): Int32Array {
  const out = new Int32Array(batch);
  for (let n = 0; n < batch; n++) {
    let best = 0;
    for (let c = 1; c < classes; c++)
      if (scores[n * classes + c]! > scores[n * classes + best]!) best = c;
    out[n] = best;
  }
  return out;
}

export interface Evaluation {
  readonly accuracy: number;
  /** confusion[true * K + predicted]: counts. */
  readonly confusion: Int32Array;
  readonly classes: number;
}

export async function evaluate(
  trainer: Trainer,
  data: Dataset,
  batch: number,
): Promise<Evaluation> {
  const k = trainer.classes;
  const confusion = new Int32Array(k * k);
  const order = Int32Array.from({ length: data.count }, (_, i) => i);
  let correct = 0;
  for (let at = 0; at < data.count; at += batch) {
    const n = Math.min(batch, data.count - at);
    const b = gather(data, order, at, n);
    const predicted = argmax(await trainer.predict(b.x, n), n, k);
    for (let i = 0; i < n; i++) {
      confusion[b.labels[i]! * k + predicted[i]!]!++;
      if (predicted[i] === b.labels[i]) correct++;
    }
  }
  return { accuracy: data.count ? correct / data.count : 0, confusion, classes: k };
}

export interface LoopOptions {
  /** The learning rate the schedule starts from. */
  readonly lr: number;
  readonly epochs: number;
  readonly batch: number;
  readonly seed: number;
  readonly schedule: Schedule;
  /** Epochs already done (a resumed run starts after them). */
  readonly startEpoch?: number;
  /** Steps between `onBatch` reports (each waits for the steps queued before it; 20). */
  readonly reportEvery?: number;
}

export interface EpochReport {
  /** 1-based. */
  readonly epoch: number;
  readonly loss: number;
  readonly accuracy: number;
  /** On the validation items, in inference mode; undefined without any. */
  readonly valAccuracy?: number;
  readonly imagesPerSecond: number;
  readonly seconds: number;
  /** The learning rate at the epoch's end. */
  readonly lr: number;
}

export interface LoopEvents {
  /** After each batch: items done of the epoch's, the running mean loss. */
  onBatch?(done: number, total: number, loss: number): void;
  /** Awaited before the next epoch starts (a checkpoint reads the weights of this one). */
  onEpoch?(report: EpochReport): void | Promise<void>;
}

/**
 * Epochs of shuffled batches (a generator seeded by the seed and the epoch, so a resumed run
 * draws what an uninterrupted one would), each step at the schedule's rate.
 */
export async function trainLoop(
  trainer: Trainer,
  train: Dataset,
  val: Dataset | undefined,
  options: LoopOptions,
  events: LoopEvents = {},
): Promise<EpochReport[]> {
  const reports: EpochReport[] = [];
  const steps = Math.ceil(train.count / options.batch);
  await trainer.sums(true);
  for (let epoch = options.startEpoch ?? 0; epoch < options.epochs; epoch++) {
    const order = shuffled(train.count, random(options.seed * 7919 + epoch));
    const start = performance.now();
    let lr = options.lr;
    for (let s = 0; s < steps; s++) {
      const at = s * options.batch;
      const n = Math.min(options.batch, train.count - at);
      const b = gather(train, order, at, n);
      lr = learningRate(options.lr, options.schedule, epoch + s / steps, options.epochs);
      trainer.step(b.x, b.labels, lr, options.seed * 1_000_003 + epoch * steps + s);
      // (reading the sums waits for the queued steps: now and then, for the progress line)
      const every = options.reportEvery ?? 20;
      if (events.onBatch && (s % every === every - 1 || s === steps - 1))
        events.onBatch(at + n, train.count, (await trainer.sums()).loss);
    }
    const sums = await trainer.sums(true);
    const seconds = (performance.now() - start) / 1000;
    const report: EpochReport = {
      epoch: epoch + 1,
      loss: sums.loss,
      accuracy: sums.correct / sums.items,
      ...(val && val.count
        ? { valAccuracy: (await evaluate(trainer, val, options.batch)).accuracy }
        : {}),
      imagesPerSecond: train.count / seconds,
      seconds,
      lr,
    };
    reports.push(report);
    await events.onEpoch?.(report);
  }
  return reports;
}
