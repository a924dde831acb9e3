// Normalisation across channels: batch norm at inference (running statistics), PyTorch's
// local response normalisation, and softmax over channels.
import {
  batchNormBackward,
  type BatchNormBuffers,
  batchNormTrain,
  batchStats,
  channelSumGrad,
  channelTermSum,
  scaledGrad,
  softmaxGrad,
  groupNormBackward,
  lrnBackward as lrnKernels,
  type GroupNormGrad,
} from "../train/kernels.js";
import type { TrainEmitter } from "./emit.js";
import { elementCount, formatShape, type Shape } from "../ir/graph.js";
import {
  batchNormKernel,
  channelNormKernel,
  instanceNormKernel,
  lrnKernel,
  softmaxKernel,
  type Normalise,
} from "../codegen/direct.js";
import { float, int, ints, type OnnxReader } from "./onnx.js";
import { fusedActivation, type Emitter } from "./emit.js";
import { perOutput, pointwise, wholeMap } from "./field.js";
import { num, type Args, type LayerDef } from "./language.js";
import { postActAttrs, postActDefaults, type PostAct } from "./pool.js";
import { alongAxis } from "./shape.js";
import { dims3, sameShape, spatial } from "./shape-rules.js";
import { channelSums, normBackward, onlyInputs, type NormGroups } from "./grad.js";
import {
  ShapeError,
  type Family,
  type NoAttrs,
  type BackwardContext,
  type CnnSyntax,
  type OpDef,
  type OpNode,
  type ReferenceContext,
  type Tensor,
  type WeightSpec,
} from "./types.js";

export interface NormFamily {
  /** `momentum`: how far training moves the running statistics each step (PyTorch's, 0.1). */
  batchnorm: { readonly eps: number; readonly momentum?: number } & PostAct;
  /** y = x * weight[c] + bias[c]: an ONNX Add/Sub/Mul/Div by a constant per channel or scalar. */
  scale: PostAct;
  lrn: { readonly size: number; readonly alpha: number; readonly beta: number; readonly k: number };
  /** Over channels (axis 1 of NCHW), or over features for a flat input. */
  softmax: NoAttrs;
  /** log(softmax(x)), over channels as softmax, computed without the log of an underflow. */
  log_softmax: NoAttrs;
  /** Each (item, channel) map by its own mean and variance, then weight and bias per channel. */
  instance_norm: { readonly eps: number };
  /** Each item by the mean and variance of all its values, then weight and bias per value. */
  layer_norm: { readonly eps: number };
  /** Each pixel by the mean and variance of its channels, then weight and bias per channel. */
  channel_norm: { readonly eps: number };
}

/** f(value, channel) over every element of an NCHW (or [N, F]) tensor. */
export function channelwise(
  x: Tensor,
  inputShape: Shape | undefined,
  f: (v: number, ch: number) => number,
): Tensor {
  const s = inputShape ?? [];
  const c = s[0] ?? 1;
  const inner = elementCount(s.slice(1));
  return x.map((v, i) => f(v, Math.floor(i / inner) % c));
}

// PyTorch's LocalResponseNorm: b_c = a_c / (k + alpha / size * sum a_j^2)^beta over
// j in [c - floor(size / 2), c + floor((size - 1) / 2)].
function lrn(a: NormFamily["lrn"], x: Tensor, ctx: ReferenceContext): Tensor {
  const [c, h, w] = dims3(ctx.inputShapes[0]);
  const { size: n, alpha, beta, k } = a;
  const out = new Float64Array(x.length);
  const hw = h * w;
  for (let b = 0; b < ctx.batch; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < hw; i++) {
        let sum = 0;
        const j0 = Math.max(0, ch - Math.floor(n / 2));
        const j1 = Math.min(c - 1, ch + Math.floor((n - 1) / 2));
        for (let j = j0; j <= j1; j++) {
          const v = x[(b * c + j) * hw + i]!;
          sum += v * v;
        }
        const idx = (b * c + ch) * hw + i;
        out[idx] = x[idx]! / Math.pow(k + (alpha / n) * sum, beta);
      }
    }
  }
  return out;
}

// Over channels, per pixel (per sample for flat input); max-subtracted for stability. `log`:
// x - max - log(sum), which stays finite where softmax underflows to 0.
function softmax(x: Tensor, ctx: ReferenceContext, log = false): Tensor {
  const s = ctx.inputShapes[0] ?? [];
  const c = s[0] ?? 1;
  const inner = elementCount(s.slice(1));
  const out = new Float64Array(x.length);
  for (let n = 0; n < ctx.batch; n++) {
    for (let i = 0; i < inner; i++) {
      const at = (ch: number): number => (n * c + ch) * inner + i;
      let max = -Infinity;
      for (let ch = 0; ch < c; ch++) max = Math.max(max, x[at(ch)]!);
      let sum = 0;
      for (let ch = 0; ch < c; ch++) sum += Math.exp(x[at(ch)]! - max);
      for (let ch = 0; ch < c; ch++)
        out[at(ch)] = log ? x[at(ch)]! - max - Math.log(sum) : Math.exp(x[at(ch)]! - max) / sum;
    }
  }
  return out;
}

/** The gradient of softmax over channels (y (dy - sum dy y)), or of its log (dy - e^y sum dy). */
function softmaxBackward(y: Tensor, ctx: BackwardContext, log: boolean): Tensor {
  const s = ctx.inputShapes[0] ?? [];
  const c = s[0] ?? 1;
  const inner = elementCount(s.slice(1));
  const dx = new Float64Array(y.length);
  const dy = ctx.dy;
  for (let n = 0; n < ctx.batch; n++) {
    for (let i = 0; i < inner; i++) {
      const at = (ch: number): number => (n * c + ch) * inner + i;
      let sum = 0;
      for (let ch = 0; ch < c; ch++) sum += log ? dy[at(ch)]! : dy[at(ch)]! * y[at(ch)]!;
      for (let ch = 0; ch < c; ch++)
        dx[at(ch)] = log
          ? dy[at(ch)]! - Math.exp(y[at(ch)]!) * sum
          : y[at(ch)]! * (dy[at(ch)]! - sum);
    }
  }
  return dx;
}

/** The gradient of LocalResponseNorm, the window sum S_c = k + alpha / n sum a_j^2. */
function lrnBackward(a: NormFamily["lrn"], x: Tensor, ctx: BackwardContext): Tensor {
  const [c, h, w] = dims3(ctx.inputShapes[0]);
  const { size: n, alpha, beta, k } = a;
  const hw = h * w;
  const dx = new Float64Array(x.length);
  const sums = new Float64Array(c);
  const lo = (ch: number) => Math.max(0, ch - Math.floor(n / 2));
  const hi = (ch: number) => Math.min(c - 1, ch + Math.floor((n - 1) / 2));
  for (let b = 0; b < ctx.batch; b++) {
    for (let i = 0; i < hw; i++) {
      const at = (ch: number) => (b * c + ch) * hw + i;
      for (let ch = 0; ch < c; ch++) {
        let sum = 0;
        for (let j = lo(ch); j <= hi(ch); j++) sum += x[at(j)]! ** 2;
        sums[ch] = k + (alpha / n) * sum;
      }
      for (let ch = 0; ch < c; ch++) {
        const g = ctx.dy[at(ch)]!;
        dx[at(ch)]! += g * Math.pow(sums[ch]!, -beta);
        // output ch depends on x_j for j in its window: d/dx_j = -beta S^(-beta-1) 2 alpha/n x_j
        const common = -g * x[at(ch)]! * beta * Math.pow(sums[ch]!, -beta - 1) * ((2 * alpha) / n);
        for (let j = lo(ch); j <= hi(ch); j++) dx[at(j)]! += common * x[at(j)]!;
      }
    }
  }
  return dx;
}

/** A batch norm node's buffers in training (compiler/train/kernels.ts). */
function batchNormBuffers(
  node: OpNode<NormFamily["batchnorm"]>,
  e: TrainEmitter,
): BatchNormBuffers {
  const [gamma, beta, mean, variance] = node.weights as [string, string, string, string];
  const { c, inner } = channelsOf(e.inShapes[0]);
  return {
    x: node.inputs[0]!,
    y: node.name,
    gamma,
    beta,
    mean,
    variance,
    stats: e.state("stats", 2 * c),
    sums: e.state("sums", 2 * c),
    channels: c,
    inner,
    eps: node.attrs.eps,
    momentum: node.attrs.momentum ?? 0.1,
  };
}

/** Channels and elements per channel of an item ([C, H, W], or [F] as F channels of 1). */
function channelsOf(shape: Shape | undefined): { c: number; inner: number } {
  const c = shape?.[0] ?? 1;
  return { c, inner: elementCount(shape ?? []) / c };
}

/** Batch norm's groups: each channel over the batch and the map. */
function batchGroups(shape: Shape | undefined, batch: number): NormGroups {
  const c = shape?.[0] ?? 1;
  const inner = elementCount(shape ?? []) / c;
  return {
    groups: c,
    size: batch * inner,
    index: (ch, k) => (Math.floor(k / inner) * c + ch) * inner + (k % inner),
    param: (ch) => ch,
  };
}

/** Softmax and LogSoftmax: over channels only (their axis, as each opset defines it). */
function readSoftmax(r: OnnxReader, op: "softmax" | "log_softmax"): void {
  const x = r.value(0);
  const axis = r.attrInt("axis", r.opset >= 13 ? -1 : 1);
  const shape = r.shapeOf(x);
  const rank = shape.length + 1;
  const a = axis < 0 ? axis + rank : axis;
  // Before opset 13, softmax flattened from `axis` on: one axis only when those after it are 1.
  const legacyOk = r.opset >= 13 || shape.slice(a).every((d) => d === 1);
  if (!legacyOk)
    r.fail(
      `${r.opType} over axes ${a} to ${rank - 1} together (opset ${r.opset}) is not supported`,
    );
  // Over channels, or over H or W (L) by transposes around it (detectors' [N, A, 2] scores).
  alongAxis(r, [x], axis, ([v]) => r.emit(op, [v!], {}));
}

/** Softmax over channels, or its log (x - max - log(sum), never the log of an underflow). */
function softmaxOp(log: boolean): OpDef<NoAttrs> {
  const op = log ? "log_softmax" : "softmax";
  const onnx = log ? "LogSoftmax" : "Softmax";
  return {
    attrs: {},
    arity: 1,
    weights: () => [],
    infer: sameShape,
    reference: (_, [x], ctx) => softmax(x!, ctx, log),
    grad: {
      backward: (_, __, ctx) => onlyInputs(softmaxBackward(ctx.output, ctx, log)),
      emitBackward(node, e) {
        const dx = e.grad(node.inputs[0]!);
        const { c, inner } = channelsOf(e.inShapes[0]);
        if (dx) e.emit(softmaxGrad(node.name, e.grad(node.name)!, dx, c, inner, log));
      },
    },
    // max, subtract, exp, sum, divide (log: log, subtract)
    cost: perOutput(log ? 6 : 5),
    // each output reads every value along its axis (channels, or features)
    connections: (node) => elementCount(node.shape) * (node.shape[0] ?? 1),
    receptiveField: pointwise,
    traits: { family: "norm" },
    emit(node, e) {
      const channels = node.shape[0] ?? 1;
      e.emit(
        softmaxKernel({
          input: node.inputs[0]!,
          output: e.output,
          channels,
          inner: elementCount(node.shape) / channels,
          log,
        }),
      );
    },
    toOnnx: (node, w) => void w.node(onnx, [node.inputs[0]!], node.name, { axis: int(1) }),
    fromOnnx: { [onnx]: (r: OnnxReader) => readSoftmax(r, op) },
    cnn: {
      layers: {
        [op]: {
          doc: log ? "log of softmax over channels" : "softmax over channels",
          params: [],
          lower: () => ({ op, attrs: {} }),
        },
      },
      print: () => op,
    },
  };
}

/** A weight and a bias per channel (scale, instance_norm, channel_norm); generated: factors
 * spread around 1, shifts around 0. */
export function channelAffineWeights(x: Shape | undefined): readonly WeightSpec[] {
  const c = [x?.[0] ?? 0];
  return [
    { role: "weight", shape: c, init: (u) => 0.5 + u() },
    { role: "bias", shape: c, init: (u) => u() - 0.5 },
  ];
}

/** A weight and a bias per value of the item (layer_norm, affine). */
export function itemAffineWeights(x: Shape | undefined): readonly WeightSpec[] {
  return [
    { role: "weight", shape: x ?? [], init: (u) => 0.5 + u() },
    { role: "bias", shape: x ?? [], init: (u) => u() - 0.5 },
  ];
}

/** What a normalisation kernel of [C, H, W] needs of its node. */
function normalise(node: OpNode<{ readonly eps: number }>, e: Emitter): Normalise {
  const [c, h, w] = dims3(node.shape);
  return {
    input: node.inputs[0]!,
    output: e.output,
    channels: c,
    inner: h * w,
    eps: node.attrs.eps,
    weights: [e.weight(node.weights[0]!), e.weight(node.weights[1]!)],
  };
}

/** The WebGPU backward pass of instance, layer and channel norm: a group normalisation's. */
function emitGroupNorm(
  node: OpNode<{ readonly eps: number }>,
  e: TrainEmitter,
  groups: Pick<GroupNormGrad, "groups" | "size" | "at" | "paramPer">,
): void {
  const [gamma, beta] = node.weights;
  const n = {
    x: node.inputs[0]!,
    dy: e.grad(node.name)!,
    gamma: gamma!,
    eps: node.attrs.eps,
    ...groups,
  };
  const grads = {
    dx: e.grad(n.x),
    dgamma: e.weightGrad(gamma!),
    dbeta: e.weightGrad(beta!),
  };
  const stats = e.temp("stats", groups.groups * 4);
  groupNormBackward(n, stats, grads).forEach((k) => e.emit(k));
}

/** The layer of a normalisation whose one argument is eps. */
function epsLayer<K extends "instance_norm" | "layer_norm" | "channel_norm">(
  op: K,
  doc: string,
  eps: number,
): CnnSyntax<NormFamily[K]> {
  return {
    layers: {
      [op]: {
        doc,
        params: [{ name: "eps", kind: "positive", default: eps }],
        lower: (a: Args) =>
          ({ op, attrs: { eps: a.float("eps") } }) as ReturnType<LayerDef["lower"]>,
      },
    },
    print: (node) => `${op}(eps=${num(node.attrs.eps)})`,
  };
}

export const normOps: Family<NormFamily> = {
  batchnorm: {
    attrs: { eps: "float", momentum: "float", ...postActAttrs },
    defaults: { ...postActDefaults, momentum: 0.1 },
    arity: 1,
    weights: (_, [x]) => {
      const c = [x?.[0] ?? 0];
      return [
        { role: "gamma", shape: c },
        { role: "beta", shape: c },
        { role: "mean", shape: c, stat: true },
        { role: "var", shape: c, stat: true },
      ];
    },
    infer(a, [x]) {
      if (!x || (x.length !== 3 && x.length !== 1)) {
        throw new ShapeError(`expects a [C, H, W] or [F] input, got ${formatShape(x ?? [])}`);
      }
      if (!(a.eps > 0)) throw new ShapeError(`eps must be positive, got ${a.eps}`);
      return x;
    },
    // y = (x - mean) / sqrt(var + eps) * gamma + beta
    reference(node, [x], ctx) {
      const [gamma, beta, mean, variance] = ctx.weights as [
        Float32Array,
        Float32Array,
        Float32Array,
        Float32Array,
      ];
      const eps = node.attrs.eps;
      return channelwise(
        x!,
        ctx.inputShapes[0],
        (v, ch) => ((v - mean[ch]!) / Math.sqrt(variance[ch]! + eps)) * gamma[ch]! + beta[ch]!,
      );
    },
    grad: {
      // Training mode (PyTorch's): the batch's mean and biased variance normalise; the running
      // statistics move 0.1 of the way to the batch's (its variance unbiased).
      train(node, [x], ctx) {
        const [gamma, beta, mean, variance] = ctx.weights as [
          Float32Array,
          Float32Array,
          Float32Array,
          Float32Array,
        ];
        const at = batchGroups(ctx.inputShapes[0], ctx.batch);
        const y = new Float64Array(x!.length);
        const newMean = new Float32Array(at.groups);
        const newVar = new Float32Array(at.groups);
        for (let ch = 0; ch < at.groups; ch++) {
          let m = 0;
          for (let k = 0; k < at.size; k++) m += x![at.index(ch, k)]!;
          m /= at.size;
          let v = 0;
          for (let k = 0; k < at.size; k++) v += (x![at.index(ch, k)]! - m) ** 2;
          const r = 1 / Math.sqrt(v / at.size + node.attrs.eps);
          for (let k = 0; k < at.size; k++) {
            const i = at.index(ch, k);
            y[i] = (x![i]! - m) * r * gamma[ch]! + beta[ch]!;
          }
          const momentum = node.attrs.momentum ?? 0.1;
          newMean[ch] = (1 - momentum) * mean[ch]! + momentum * m;
          newVar[ch] = (1 - momentum) * variance[ch]! + momentum * (v / Math.max(at.size - 1, 1));
        }
        return { output: y, saved: [new Float64Array(0)], stats: [newMean, newVar] };
      },
      backward(node, [x], ctx) {
        const [gamma, , mean, variance] = ctx.weights as [
          Float32Array,
          Float32Array,
          Float32Array,
          Float32Array,
        ];
        const eps = node.attrs.eps;
        if (ctx.saved) {
          const g = normBackward(
            x!,
            ctx.dy,
            gamma,
            eps,
            batchGroups(ctx.inputShapes[0], ctx.batch),
          );
          return { inputs: [g.dx], weights: [g.dgamma, g.dbeta, undefined, undefined] };
        }
        // inference mode: a fixed scale and shift per channel
        const r = (ch: number) => 1 / Math.sqrt(variance[ch]! + eps);
        const dx = channelwise(ctx.dy, ctx.inputShapes[0], (g, ch) => g * gamma[ch]! * r(ch));
        const xh = channelwise(x!, ctx.inputShapes[0], (v, ch) => (v - mean[ch]!) * r(ch));
        const dgamma = channelSums(
          xh.map((v, i) => v * ctx.dy[i]!),
          ctx.inputShapes[0],
          ctx.batch,
        );
        const dbeta = channelSums(ctx.dy, ctx.inputShapes[0], ctx.batch);
        return { inputs: [dx], weights: [dgamma, dbeta, undefined, undefined] };
      },
      emitTrain: (node, e) => {
        const b = batchNormBuffers(node, e);
        e.emit(batchStats(b));
        e.emit(batchNormTrain(b));
      },
      emitBackward(node, e) {
        const b = batchNormBuffers(node, e);
        const grads = {
          dy: e.grad(node.name)!,
          dx: e.grad(node.inputs[0]!),
          dgamma: e.weightGrad(b.gamma)!,
          dbeta: e.weightGrad(b.beta)!,
        };
        batchNormBackward(b, grads).forEach((k) => e.emit(k));
      },
    },
    // a scale and a shift per element once the statistics are folded
    cost: perOutput(2),
    receptiveField: pointwise,
    traits: { family: "norm", fusedActivation: "post", inPlace: true, anyLayout: true },
    emit(node, e) {
      const [g, b, m, v] = node.weights.map((w) => e.weight(w));
      const channels = node.shape[0] ?? 1;
      e.emit(
        batchNormKernel({
          input: node.inputs[0]!,
          output: e.output,
          weights: [g!, b!, m!, v!],
          channels,
          inner: elementCount(node.shape) / channels,
          eps: node.attrs.eps,
          act: fusedActivation(node.attrs),
          inPlace: e.inPlace !== undefined,
          layout: e.layout(e.output),
        }),
      );
    },
    // ONNX's momentum is the share the running statistics keep: 1 - PyTorch's (default 0.9)
    toOnnx: (node, w) =>
      void w.node("BatchNormalization", [node.inputs[0]!, ...node.weights], node.name, {
        epsilon: float(node.attrs.eps),
        ...(node.attrs.momentum !== undefined && node.attrs.momentum !== 0.1
          ? { momentum: float(1 - node.attrs.momentum) }
          : {}),
      }),
    fromOnnx: {
      BatchNormalization(r) {
        if (r.attrInt("training_mode", 0)) r.fail("training_mode is not supported");
        // Opsets before 9 could normalise per element (spatial=0); before 7 is_test said
        // whether to use the running statistics (cnnc always does: inference).
        if (r.opset < 9 && r.attrInt("spatial", 1) !== 1) r.fail("spatial=0 is not supported");
        if (r.opset < 7 && r.attrInt("is_test", 0) !== 1)
          r.fail("is_test=0 (batch statistics, training) is not supported");
        const channels = r.shapeOf(r.value(0))[0];
        const stats = [1, 2, 3, 4].map((i) => {
          const c = r.constant(i);
          if (c.data.length !== channels)
            r.fail(`input ${i} has ${c.data.length} values for ${channels} channels`);
          return c.data;
        });
        const momentum = 1 - r.attrFloat("momentum", 0.9);
        const attrs = { eps: r.attrFloat("epsilon", 1e-5) };
        const kept = Math.abs(momentum - 0.1) > 1e-6 ? { ...attrs, momentum } : attrs;
        r.emit("batchnorm", [r.value(0)], kept, stats);
      },
    },
    cnn: {
      layers: {
        bn: {
          doc: "batch normalisation with running statistics",
          params: [
            { name: "eps", kind: "positive", default: 1e-5 },
            // how far each training step moves the running statistics
            { name: "momentum", kind: "probability", default: 0.1 },
          ],
          lower: (a) => {
            const momentum = a.float("momentum");
            return {
              op: "batchnorm",
              attrs: { eps: a.float("eps"), ...(momentum !== 0.1 ? { momentum } : {}) },
            };
          },
        },
      },
      print: (node) =>
        `bn(eps=${num(node.attrs.eps)}${(node.attrs.momentum ?? 0.1) !== 0.1 ? `, momentum=${num(node.attrs.momentum!)}` : ""})`,
    },
  },
  scale: {
    attrs: postActAttrs,
    defaults: postActDefaults,
    arity: 1,
    weights: (_, [x]) => channelAffineWeights(x),
    infer(_, [x]) {
      if (!x || (x.length !== 3 && x.length !== 1))
        throw new ShapeError(`expects a [C, H, W] or [F] input, got ${formatShape(x ?? [])}`);
      return x;
    },
    reference(_, [x], ctx) {
      const [weight, bias] = ctx.weights as [Float32Array, Float32Array];
      return channelwise(x!, ctx.inputShapes[0], (v, ch) => v * weight[ch]! + bias[ch]!);
    },
    grad: {
      backward(_, [x], ctx) {
        const weight = ctx.weights[0]!;
        const shape = ctx.inputShapes[0];
        const dx = channelwise(ctx.dy, shape, (g, ch) => g * weight[ch]!);
        const dw = channelSums(
          x!.map((v, i) => v * ctx.dy[i]!),
          shape,
          ctx.batch,
        );
        return { inputs: [dx], weights: [dw, channelSums(ctx.dy, shape, ctx.batch)] };
      },
      emitBackward(node, e) {
        const [w, b] = node.weights as [string, string];
        const { c, inner } = channelsOf(e.inShapes[0]);
        const x = node.inputs[0]!;
        const dy = e.grad(node.name)!;
        const dx = e.grad(x);
        if (dx) e.emit(scaledGrad(x, dy, dx, w, c, inner, "wt[c]"));
        e.emit(channelTermSum(x, dy, e.weightGrad(w)!, c, inner, "xv * g"));
        e.emit(channelSumGrad(dy, e.weightGrad(b)!, c, inner));
      },
    },
    cost: perOutput(2),
    receptiveField: pointwise,
    traits: { family: "norm", fusedActivation: "post", inPlace: true, anyLayout: true },
    emit(node, e) {
      const [w, b] = node.weights.map((n) => e.weight(n));
      const channels = node.shape[0] ?? 1;
      e.emit(
        batchNormKernel({
          input: node.inputs[0]!,
          output: e.output,
          weights: [w!, b!],
          channels,
          inner: elementCount(node.shape) / channels,
          eps: 0,
          act: fusedActivation(node.attrs),
          inPlace: e.inPlace !== undefined,
          layout: e.layout(e.output),
        }),
      );
    },
    toOnnx(node, w) {
      // [C, 1, 1] (or [F]) broadcasts per channel against [N, C, H, W].
      const c = node.shape[0] ?? 1;
      const dims = node.shape.length === 3 ? [c, 1, 1] : [c];
      const m = w.node(
        "Mul",
        [node.inputs[0]!, w.floats(`${node.name}.factor`, dims, w.weight(node.weights[0]!))],
        `${node.name}.mul`,
      );
      w.node(
        "Add",
        [m, w.floats(`${node.name}.shift`, dims, w.weight(node.weights[1]!))],
        node.name,
      );
    },
    // read by the Add, Sub, Mul and Div readers (elementwise.ts) where an operand is constant
    fromOnnx: {},
    cnn: {
      layers: {
        scale: {
          doc: "x * weight + bias per channel (weight and bias [C])",
          params: [],
          lower: () => ({ op: "scale", attrs: {} }),
        },
      },
      print: () => "scale",
    },
  },
  lrn: {
    attrs: { size: "int", alpha: "float", beta: "float", k: "float" },
    arity: 1,
    weights: () => [],
    infer(a, [x]) {
      spatial(x);
      if (!(a.size >= 1)) throw new ShapeError(`size must be at least 1, got ${a.size}`);
      return x ?? [];
    },
    reference: (node, [x], ctx) => lrn(node.attrs, x!, ctx),
    grad: {
      backward: (node, [x], ctx) => onlyInputs(lrnBackward(node.attrs, x!, ctx)),
      emitBackward(node, e) {
        const x = node.inputs[0]!;
        const dx = e.grad(x);
        if (!dx) return;
        const shape = dims3(node.shape);
        const t = e.temp("terms", elementCount(node.shape));
        lrnKernels(node.attrs, shape, x, e.grad(node.name)!, t, dx).forEach((k) => e.emit(k));
      },
    },
    cost: (node) => perOutput(2 * node.attrs.size + 3)(node),
    receptiveField: pointwise,
    traits: { family: "norm" },
    emit: (node, e) =>
      e.emit(
        lrnKernel({
          input: node.inputs[0]!,
          output: e.output,
          inShape: dims3(e.inShapes[0]),
          ...node.attrs,
        }),
      ),
    toOnnx(node, w) {
      const a = node.attrs;
      if (a.size % 2 === 0) {
        w.fail(
          `lrn with an even size (${a.size}) has no exact ONNX equivalent; ONNX centres the window differently from PyTorch`,
        );
      }
      w.node("LRN", [node.inputs[0]!], node.name, {
        size: int(a.size),
        alpha: float(a.alpha),
        beta: float(a.beta),
        bias: float(a.k),
      });
    },
    fromOnnx: {
      LRN(r) {
        const size = r.attrInt("size", 1);
        if (size % 2 === 0)
          r.fail(
            "an even size is centred differently by ONNX and PyTorch; only odd sizes are supported",
          );
        r.emit("lrn", [r.value(0)], {
          size,
          alpha: r.attrFloat("alpha", 1e-4),
          beta: r.attrFloat("beta", 0.75),
          k: r.attrFloat("bias", 1),
        });
      },
    },
    cnn: {
      layers: {
        lrn: {
          doc: "local response normalisation across channels",
          params: [
            { name: "size", kind: "count", default: 5 },
            { name: "alpha", kind: "float", default: 1e-4 },
            { name: "beta", kind: "float", default: 0.75 },
            { name: "k", kind: "float", default: 2 },
          ],
          lower: (a) => ({
            op: "lrn",
            attrs: {
              size: a.int("size"),
              alpha: a.float("alpha"),
              beta: a.float("beta"),
              k: a.float("k"),
            },
          }),
        },
      },
      print: ({ attrs: a }) =>
        `lrn(size=${a.size}, alpha=${num(a.alpha)}, beta=${num(a.beta)}, k=${num(a.k)})`,
    },
  },
  softmax: softmaxOp(false),
  log_softmax: softmaxOp(true),
  instance_norm: {
    attrs: { eps: "float" },
    arity: 1,
    weights: (_, [x]) => channelAffineWeights(x),
    infer(a, [x]) {
      spatial(x);
      if (!(a.eps > 0)) throw new ShapeError(`eps must be positive, got ${a.eps}`);
      return x ?? [];
    },
    reference(node, [x], ctx) {
      const [c, h, w] = dims3(ctx.inputShapes[0]);
      const [scale, bias] = ctx.weights as [Float32Array, Float32Array];
      const inner = h * w;
      const y = new Float64Array(x!.length);
      for (let m = 0; m < ctx.batch * c; m++) {
        const map = x!.subarray(m * inner, (m + 1) * inner);
        const mean = map.reduce((s, v) => s + v, 0) / inner;
        const variance = map.reduce((s, v) => s + (v - mean) ** 2, 0) / inner;
        const r = 1 / Math.sqrt(variance + node.attrs.eps);
        for (let k = 0; k < inner; k++)
          y[m * inner + k] = (map[k]! - mean) * r * scale[m % c]! + bias[m % c]!;
      }
      return y;
    },
    grad: {
      backward(node, [x], ctx) {
        const [c, h, w] = dims3(ctx.inputShapes[0]);
        const inner = h * w;
        const g = normBackward(x!, ctx.dy, ctx.weights[0]!, node.attrs.eps, {
          groups: ctx.batch * c,
          size: inner,
          index: (m, k) => m * inner + k,
          param: (m) => m % c,
        });
        return { inputs: [g.dx], weights: [g.dgamma, g.dbeta] };
      },
      emitBackward(node, e) {
        const [c, h, w] = dims3(node.shape);
        emitGroupNorm(node, e, { groups: c, size: h * w, at: "g * S + k", paramPer: "group" });
      },
    },
    // sum, deviation, square, sum, normalise, scale, shift
    cost: perOutput(7),
    receptiveField: (_, [x], [shape]) => wholeMap(x!, shape),
    traits: { family: "norm" },
    emit: (node, e) => e.emit(instanceNormKernel(normalise(node, e))),
    toOnnx: (node, w) =>
      void w.node("InstanceNormalization", [node.inputs[0]!, ...node.weights], node.name, {
        epsilon: float(node.attrs.eps),
      }),
    fromOnnx: {
      InstanceNormalization(r) {
        const x = r.value(0);
        const channels = r.shapeOf(x)[0];
        const [scale, bias] = [1, 2].map((i) => {
          const c = r.constant(i);
          if (c.data.length !== channels)
            r.fail(`input ${i} has ${c.data.length} values for ${channels} channels`);
          return c.data;
        });
        r.emit("instance_norm", [x], { eps: r.attrFloat("epsilon", 1e-5) }, [scale!, bias!]);
      },
    },
    cnn: epsLayer(
      "instance_norm",
      "each map by its own mean and variance, then weight and bias per channel",
      1e-5,
    ),
  },
  layer_norm: {
    attrs: { eps: "float" },
    arity: 1,
    weights: (_, [x]) => itemAffineWeights(x),
    infer(a, [x]) {
      if (!(a.eps > 0)) throw new ShapeError(`eps must be positive, got ${a.eps}`);
      return x ?? [];
    },
    reference(node, [x], ctx) {
      const [scale, bias] = ctx.weights as [Float32Array, Float32Array];
      const per = elementCount(ctx.inputShapes[0] ?? []);
      const y = new Float64Array(x!.length);
      for (let n = 0; n < ctx.batch; n++) {
        const item = x!.subarray(n * per, (n + 1) * per);
        const mean = item.reduce((s, v) => s + v, 0) / per;
        const variance = item.reduce((s, v) => s + (v - mean) ** 2, 0) / per;
        const r = 1 / Math.sqrt(variance + node.attrs.eps);
        for (let k = 0; k < per; k++) y[n * per + k] = (item[k]! - mean) * r * scale[k]! + bias[k]!;
      }
      return y;
    },
    grad: {
      backward(node, [x], ctx) {
        const per = elementCount(ctx.inputShapes[0] ?? []);
        const g = normBackward(x!, ctx.dy, ctx.weights[0]!, node.attrs.eps, {
          groups: ctx.batch,
          size: per,
          index: (n, k) => n * per + k,
          param: (_, k) => k,
        });
        return { inputs: [g.dx], weights: [g.dgamma, g.dbeta] };
      },
      emitBackward(node, e) {
        const per = elementCount(node.shape);
        emitGroupNorm(node, e, { groups: 1, size: per, at: "k", paramPer: "element" });
      },
    },
    cost: perOutput(7),
    receptiveField: (_, [x], [shape]) => wholeMap(x!, shape),
    traits: { family: "norm" },
    emit(node, e) {
      e.emit(
        instanceNormKernel({
          input: node.inputs[0]!,
          output: e.output,
          channels: 1,
          inner: elementCount(node.shape),
          eps: node.attrs.eps,
          weights: [e.weight(node.weights[0]!), e.weight(node.weights[1]!)],
          perElement: true,
        }),
      );
    },
    toOnnx: (node, w) =>
      void w.node(
        "LayerNormalization",
        [
          node.inputs[0]!,
          w.floats(`${node.name}.scale`, node.shape, w.weight(node.weights[0]!)),
          w.floats(`${node.name}.shift`, node.shape, w.weight(node.weights[1]!)),
        ],
        node.name,
        { axis: int(1), epsilon: float(node.attrs.eps) },
      ),
    fromOnnx: {
      // Over everything but N (axis 1; axis -1 of [N, F]): layer_norm, weights of the item's
      // shape (or one value). Over the last axis alone: channel_norm along it (transposes
      // around; ConvNeXt's LayerNorm over channels, exported between NHWC transposes).
      LayerNormalization(r) {
        const x = r.value(0);
        const shape = r.shapeOf(x);
        const rank = shape.length + 1;
        const axis = r.attrInt("axis", -1);
        const a = axis < 0 ? axis + rank : axis;
        if (a !== 1 && a !== rank - 1)
          r.fail(
            `only a normalisation over all of an item (axis 1) or over the last axis is supported, got axis ${axis} of rank ${rank}`,
          );
        if (r.attrInt("stash_type", 1) !== 1) r.fail("only stash_type 1 (float) is supported");
        for (let k = 1; k < r.outputCount; k++)
          if (r.hasOutput(k)) r.fail("the Mean and InvStdDev outputs are not supported");
        const per = a === 1 ? elementCount(shape) : shape[a - 1]!;
        const weight = (i: number, d: number) => {
          if (!r.hasInput(i)) return new Float32Array(per).fill(d);
          const c = r.constant(i);
          if (c.data.length === 1) return new Float32Array(per).fill(c.data[0]!);
          if (c.data.length !== per) r.fail(`input ${i} has ${c.data.length} values for ${per}`);
          return c.data;
        };
        const eps = r.attrFloat("epsilon", 1e-5);
        const [scale, shift] = [weight(1, 1), weight(2, 0)];
        if (a === 1) r.emit("layer_norm", [x], { eps }, [scale, shift]);
        else alongAxis(r, [x], a, ([v]) => r.emit("channel_norm", [v!], { eps }, [scale, shift]));
      },
    },
    cnn: epsLayer(
      "layer_norm",
      "each item by the mean and variance of all its values, then weight and bias per value",
      1e-5,
    ),
  },
  channel_norm: {
    attrs: { eps: "float" },
    arity: 1,
    weights: (_, [x]) => channelAffineWeights(x),
    infer(a, [x]) {
      if (!x || x.length !== 3)
        throw new ShapeError(`expects a [C, H, W] input, got ${formatShape(x ?? [])}`);
      if (!(a.eps > 0)) throw new ShapeError(`eps must be positive, got ${a.eps}`);
      return x;
    },
    reference(node, [x], ctx) {
      const [c, h, w] = dims3(ctx.inputShapes[0]);
      const [scale, bias] = ctx.weights as [Float32Array, Float32Array];
      const inner = h * w;
      const y = new Float64Array(x!.length);
      for (let n = 0; n < ctx.batch; n++)
        for (let p = 0; p < inner; p++) {
          const at = (ch: number) => (n * c + ch) * inner + p;
          let mean = 0;
          for (let ch = 0; ch < c; ch++) mean += x![at(ch)]!;
          mean /= c;
          let variance = 0;
          for (let ch = 0; ch < c; ch++) variance += (x![at(ch)]! - mean) ** 2;
          const r = 1 / Math.sqrt(variance / c + node.attrs.eps);
          for (let ch = 0; ch < c; ch++)
            y[at(ch)] = (x![at(ch)]! - mean) * r * scale[ch]! + bias[ch]!;
        }
      return y;
    },
    grad: {
      backward(node, [x], ctx) {
        const [c, h, w] = dims3(ctx.inputShapes[0]);
        const inner = h * w;
        const g = normBackward(x!, ctx.dy, ctx.weights[0]!, node.attrs.eps, {
          groups: ctx.batch * inner,
          size: c,
          index: (q, ch) => (Math.floor(q / inner) * c + ch) * inner + (q % inner),
          param: (_, ch) => ch,
        });
        return { inputs: [g.dx], weights: [g.dgamma, g.dbeta] };
      },
      emitBackward(node, e) {
        const [c, h, w] = dims3(node.shape);
        emitGroupNorm(node, e, { groups: h * w, size: c, at: "k * G + g", paramPer: "element" });
      },
    },
    cost: perOutput(7),
    receptiveField: pointwise,
    traits: { family: "norm" },
    emit: (node, e) => e.emit(channelNormKernel(normalise(node, e))),
    // NHWC, LayerNormalization over the last axis, back to NCHW
    toOnnx(node, w) {
      const c = node.shape[0]!;
      const t = w.node("Transpose", [node.inputs[0]!], `${node.name}.nhwc`, {
        perm: ints([0, 2, 3, 1]),
      });
      const n = w.node(
        "LayerNormalization",
        [
          t,
          w.floats(`${node.name}.scale`, [c], w.weight(node.weights[0]!)),
          w.floats(`${node.name}.shift`, [c], w.weight(node.weights[1]!)),
        ],
        `${node.name}.norm`,
        { axis: int(-1), epsilon: float(node.attrs.eps) },
      );
      w.node("Transpose", [n], node.name, { perm: ints([0, 3, 1, 2]) });
    },
    // read by layer_norm's LayerNormalization reader (over the last axis)
    fromOnnx: {},
    cnn: epsLayer(
      "channel_norm",
      "each pixel by the mean and variance of its channels, then weight and bias per channel",
      1e-6,
    ),
  },
};
