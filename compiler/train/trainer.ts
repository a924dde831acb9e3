// Training: a trainer takes optimisation steps on batches and predicts; the loop runs epochs
// of seeded shuffled batches under a learning-rate schedule and reports each epoch. The
// reference trainer computes on the CPU in float64 (compiler/train/reference.ts).
import type { Graph } from "../ir/graph.js";
import { random } from "../weights/init.js";
import { gather, shuffled, type Dataset } from "./data.js";
import { trainingGraph, type TrainGraph } from "./graph.js";
import { learningRate, Optimizer, type OptimizerConfig, type Schedule } from "./optim.js";
import { backwardPass, crossEntropy, forwardPass } from "./reference.js";

export interface StepResult {
  /** Mean cross-entropy of the batch. */
  readonly loss: number;
  readonly correct: number;
}

export interface Trainer {
  readonly graph: TrainGraph;
  readonly optimizer: Optimizer;
  /** One optimisation step on a batch of items and their labels. */
  step(x: Float32Array, labels: Int32Array, lr: number, seed: number): StepResult;
  /** The class each item scores highest, in inference mode (running statistics). */
  predict(x: Float32Array, batch: number): Int32Array;
  /** Every weight as training left it: trained ones and running statistics. */
  weights(): Map<string, Float32Array>;
}

/** Training on the CPU in float64, op by op: the oracle, and `cnnc train --cpu`. */
export class ReferenceTrainer implements Trainer {
  readonly graph: TrainGraph;
  readonly optimizer: Optimizer;
  private readonly values: Map<string, Float32Array>;
  private readonly input: string;

  constructor(source: Graph, weights: ReadonlyMap<string, Float32Array>, config: OptimizerConfig) {
    this.graph = trainingGraph(source);
    this.optimizer = new Optimizer(config);
    this.values = new Map([...weights].map(([k, v]) => [k, Float32Array.from(v)]));
    this.input = this.graph.graph.inputs[0]!.name;
  }

  step(x: Float32Array, labels: Int32Array, lr: number, seed: number): StepResult {
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
    return { loss: loss.loss, correct: loss.correct };
  }

  predict(x: Float32Array, batch: number): Int32Array {
    const pass = forwardPass(this.graph, this.values, { [this.input]: x }, batch, {
      training: false,
    });
    return argmax(pass.values.get(this.graph.logits)!, batch, this.graph.classes);
  }

  weights(): Map<string, Float32Array> {
    return new Map([...this.values].map(([k, v]) => [k, Float32Array.from(v)]));
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

export function evaluate(trainer: Trainer, data: Dataset, batch: number): Evaluation {
  const k = trainer.graph.classes;
  const confusion = new Int32Array(k * k);
  const order = Int32Array.from({ length: data.count }, (_, i) => i);
  let correct = 0;
  for (let at = 0; at < data.count; at += batch) {
    const n = Math.min(batch, data.count - at);
    const b = gather(data, order, at, n);
    const predicted = trainer.predict(b.x, n);
    for (let i = 0; i < n; i++) {
      confusion[b.labels[i]! * k + predicted[i]!]!++;
      if (predicted[i] === b.labels[i]) correct++;
    }
  }
  return { accuracy: data.count ? correct / data.count : 0, confusion, classes: k };
}

export interface LoopOptions {
  readonly epochs: number;
  readonly batch: number;
  readonly seed: number;
  readonly schedule: Schedule;
  /** Epochs already done (a resumed run starts after them). */
  readonly startEpoch?: number;
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
  onEpoch?(report: EpochReport): void;
}

/**
 * Epochs of shuffled batches (a generator seeded by the seed and the epoch, so a resumed run
 * draws what an uninterrupted one would), each step at the schedule's rate.
 */
export function trainLoop(
  trainer: Trainer,
  train: Dataset,
  val: Dataset | undefined,
  options: LoopOptions,
  events: LoopEvents = {},
): EpochReport[] {
  const reports: EpochReport[] = [];
  const lr0 = trainer.optimizer.config.lr;
  const steps = Math.ceil(train.count / options.batch);
  for (let epoch = options.startEpoch ?? 0; epoch < options.epochs; epoch++) {
    const order = shuffled(train.count, random(options.seed * 7919 + epoch));
    const start = performance.now();
    let lossSum = 0;
    let correct = 0;
    let lr = lr0;
    for (let s = 0; s < steps; s++) {
      const at = s * options.batch;
      const n = Math.min(options.batch, train.count - at);
      const b = gather(train, order, at, n);
      lr = learningRate(lr0, options.schedule, epoch + s / steps, options.epochs);
      const r = trainer.step(b.x, b.labels, lr, options.seed * 1_000_003 + epoch * steps + s);
      lossSum += r.loss * n;
      correct += r.correct;
      events.onBatch?.(at + n, train.count, lossSum / (at + n));
    }
    const seconds = (performance.now() - start) / 1000;
    const report: EpochReport = {
      epoch: epoch + 1,
      loss: lossSum / train.count,
      accuracy: correct / train.count,
      ...(val && val.count ? { valAccuracy: evaluate(trainer, val, options.batch).accuracy } : {}),
      imagesPerSecond: train.count / seconds,
      seconds,
      lr,
    };
    reports.push(report);
    events.onEpoch?.(report);
  }
  return reports;
}
