// Fully connected layers: y = act(W x + b + residual), W: [units, inputs] (PyTorch's layout).
// ONNX writes them as Gemm or as MatMul (+ Add); both import here.
import { accumulate, channelSumGrad, denseInputGrad, denseWeightGrad } from "../train/kernels.js";
import { formatShape } from "../ir/graph.js";
import { defaultTiles, gemmConvKernel } from "../codegen/gemm.js";
import { gemvKernel } from "../codegen/gemv.js";
import {
  applyEpilogue,
  epilogueAttrs,
  epilogueDefaults,
  withResidual,
  writeEpilogue,
  type Epilogue,
} from "./conv.js";
import { epilogueOf } from "./emit.js";
import { wholeMap } from "./field.js";
import { flatInput, noEpilogue } from "./language.js";
import { int, type OnnxConstant, type OnnxReader } from "./onnx.js";
import { checked, checkResidual } from "./shape-rules.js";
import { alongAxis } from "./shape.js";
import { ShapeError, type Family } from "./types.js";

export interface DenseFamily {
  dense: { readonly units: number; readonly bias: boolean } & Epilogue;
}

/** Gemm: y = alpha * A B' + beta * C, B' = B or its transpose; A is the input, B and C constant. */
function readGemm(r: OnnxReader): void {
  if (r.attrInt("transA", 0))
    r.fail("transA (A's rows as features, N last) is not supported: cnnc keeps N first");
  const w = r.constant(1);
  if (w.dims.length !== 2) r.fail(`B must be 2-D, got ${w.dims.length}-D`);
  const alpha = r.attrFloat("alpha", 1);
  const beta = r.attrFloat("beta", 1);
  const transB = r.attrInt("transB", 0) === 1;
  const [rows, cols] = [w.dims[0]!, w.dims[1]!];
  const [inputs, units] = transB ? [cols, rows] : [rows, cols];
  const x = r.value(0);
  const features = r.shapeOf(x);
  if (features.length !== 1 || features[0] !== inputs)
    r.fail(`B takes ${inputs} inputs, the input is ${formatShape(features)}`);
  // cnnc's dense weight is [units, inputs]: B as given when transB, else transposed.
  const weight = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = w.data[i * cols + j]! * alpha;
      if (transB) weight[i * cols + j] = v;
      else weight[j * rows + i] = v;
    }
  }
  const c = r.hasInput(2) ? r.constant(2) : undefined;
  // C broadcasts against [N, units]: one value, or one per unit ([units] or [1, units]).
  const rowOk = c?.dims.every((d, i) => d === 1 || (i === c.dims.length - 1 && d === units));
  if (c && !(c.data.length === 1 || (c.data.length === units && rowOk)))
    r.fail(`C ${formatShape(c.dims)} is neither one value nor one per unit (${units})`);
  const bias = c?.data.length === 1 ? new Float32Array(units).fill(c.data[0]!) : c?.data;
  const weights = bias ? [weight, bias.map((v) => v * beta)] : [weight];
  r.emit("dense", [x], { units, bias: !!bias, ...noEpilogue }, weights);
}

/**
 * MatMul's constant operand as weights [groups * units, inputs] (cnnc's and PyTorch's layout):
 * each of the `groups` matrices [inputs, units] transposed.
 */
function matMulWeight(data: Float32Array, groups: number, inputs: number, units: number) {
  const t = new Float32Array(groups * inputs * units);
  for (let g = 0; g < groups; g++)
    for (let i = 0; i < inputs; i++)
      for (let u = 0; u < units; u++)
        t[(g * units + u) * inputs + i] = data[(g * inputs + i) * units + u]!;
  return t;
}

/**
 * x @ w (+ bias, per unit) for a constant w, wherever the product is a dense layer:
 *  - [N, F] @ [F, M]: dense;
 *  - [N, C, H, K] @ [K, M] (or [N, C, K] @ [K, M]): a dense along the last axis, the 1x1 conv
 *    of K channels to M, transposed there and back;
 *  - [N, C, H, K] @ [C, K, M]: a matrix per channel, the grouped 1x1 conv (C groups of K to M)
 *    over the map as [C * K, H, 1].
 * Leading ones of w broadcast away; anything else (w varying along N) is refused.
 */
export function emitMatMul(r: OnnxReader, w: OnnxConstant, bias?: Float32Array): void {
  const dims = [...w.dims];
  while (dims.length > 2 && dims[0] === 1) dims.shift();
  const x = r.value(0);
  const shape = r.shapeOf(x);
  const [inputs, units] = [dims[dims.length - 2]!, dims[dims.length - 1]!];
  const last = shape[shape.length - 1];
  if (dims.length < 2 || dims.length > 3 || last !== inputs)
    r.fail(
      `the constant operand ${formatShape(w.dims)} does not multiply the ${formatShape(shape)} input as a dense layer`,
    );
  if (dims.length === 3 && (shape.length !== 3 || dims[0] !== shape[0]))
    r.fail(
      `the constant operand ${formatShape(w.dims)} is one matrix per channel only of a [N, C, H, K] input with C = ${dims[0]}, not of ${formatShape(shape)}`,
    );
  const groups = dims.length === 3 ? dims[0]! : 1;
  const weight = matMulWeight(w.data, groups, inputs, units);
  const weights = bias ? [weight, groups > 1 ? repeat(bias, groups) : bias] : [weight];
  if (shape.length === 1)
    return void r.emit("dense", [x], { units, bias: !!bias, ...noEpilogue }, weights);
  const conv = (v: string, filters: number, g: number) =>
    r.emit("conv2d", [v], { ...pointwise, filters, g, bias: !!bias }, weights);
  if (groups === 1) {
    alongAxis(r, [x], -1, ([v]) => conv(v!, units, 1));
    return;
  }
  // [C, H, K] -> [C, K, H] -> [C * K, H, 1] -> conv -> [C * M, H, 1] -> [C, M, H] -> [C, H, M]
  const [c, h] = [shape[0]!, shape[1]!];
  r.note(`MatMul by one matrix per channel as a grouped 1x1 conv`);
  const stacked = r.emit("reshape", [r.emit("transpose", [x], { perm: "acb" })], {
    shape: [c * inputs, h, 1],
  });
  const product = r.emit("reshape", [conv(stacked, c * units, c)], { shape: [c, units, h] });
  r.emit("transpose", [product], { perm: "acb" });
}

/** A 1x1 conv's attributes, less filters, groups and bias. */
const pointwise = {
  k: [1, 1],
  s: [1, 1],
  d: [1, 1],
  p: [0, 0, 0, 0],
  padmode: "zeros",
  ...noEpilogue,
} as const;

const repeat = (v: Float32Array, n: number): Float32Array => {
  const out = new Float32Array(v.length * n);
  for (let i = 0; i < n; i++) out.set(v, i * v.length);
  return out;
};

/** MatMul by a constant (with an Add of a bias: onnx/patterns.ts). */
function readMatMul(r: OnnxReader): void {
  emitMatMul(r, r.constant(1));
}

export const denseOps: Family<DenseFamily> = {
  dense: {
    attrs: { units: "int", bias: "bool", ...epilogueAttrs },
    defaults: epilogueDefaults,
    arity: "residual",
    weights: (a, [x]) => [
      { role: "weight", shape: [a.units, x?.[0] ?? 0] },
      ...(a.bias ? [{ role: "bias", shape: [a.units] }] : []),
    ],
    infer(a, [x, residual]) {
      if (!x || x.length !== 1) {
        throw new ShapeError(`expects a flat [F] input, got ${formatShape(x ?? [])}`);
      }
      return checkResidual(checked([a.units]), residual);
    },
    reference(node, [x, residual], ctx) {
      const inputs = ctx.inputShapes[0]?.[0] ?? 0;
      const units = node.attrs.units;
      const [w, b] = ctx.weights;
      const out = new Float64Array(ctx.batch * units);
      for (let n = 0; n < ctx.batch; n++) {
        for (let u = 0; u < units; u++) {
          let acc = b ? b[u]! : 0;
          for (let i = 0; i < inputs; i++) acc += w![u * inputs + i]! * x![n * inputs + i]!;
          out[n * units + u] = acc;
        }
      }
      return applyEpilogue(out, residual, node.attrs.act, node.attrs.alpha);
    },
    // dx = W' dy, dW = dy x' (summed over the batch), db = dy summed
    grad: {
      backward(node, [x, residual], ctx) {
        const inputs = ctx.inputShapes[0]?.[0] ?? 0;
        const units = node.attrs.units;
        const w = ctx.weights[0]!;
        const dx = new Float64Array(x!.length);
        const dw = new Float64Array(w.length);
        const db = new Float64Array(units);
        for (let n = 0; n < ctx.batch; n++) {
          for (let u = 0; u < units; u++) {
            const g = ctx.dy[n * units + u]!;
            if (g === 0) continue;
            db[u]! += g;
            for (let i = 0; i < inputs; i++) {
              dx[n * inputs + i]! += g * w[u * inputs + i]!;
              dw[u * inputs + i]! += g * x![n * inputs + i]!;
            }
          }
        }
        const grads = { inputs: [dx], weights: node.attrs.bias ? [dw, db] : [dw] };
        return withResidual(grads, residual, ctx.dy);
      },
      emitBackward(node, e) {
        const units = node.attrs.units;
        const inputs = e.inShapes[0]?.[0] ?? 0;
        const [w, b] = node.weights;
        const x = node.inputs[0]!;
        const dy = e.grad(node.name)!;
        const dx = e.grad(x);
        if (dx) e.emit(denseInputGrad(dy, w!, dx, inputs, units));
        const dw = e.weightGrad(w!);
        if (dw) e.emit(denseWeightGrad(x, dy, dw, inputs, units));
        const db = b === undefined ? undefined : e.weightGrad(b);
        if (db) e.emit(channelSumGrad(dy, db, units, 1));
        const res = node.inputs[1] === undefined ? undefined : e.grad(node.inputs[1]);
        if (res) e.emit(accumulate(dy, res, units));
      },
    },
    cost(node, [x]) {
      const macs = (x?.[0] ?? 0) * node.attrs.units;
      return { macs, flops: 2 * macs + (node.attrs.bias ? node.attrs.units : 0) };
    },
    receptiveField: (_, [x], [shape]) =>
      (shape?.length ?? 1) === 3 ? wholeMap(x!, shape) : { ...x!, global: true },
    traits: { family: "dense", fusedActivation: "epilogue" },
    // A dense layer is a 1x1 conv over a 1x1 map; a weight over the binding limit runs as
    // several dispatches over row ranges (output units), each writing its slice.
    emit(node, e) {
      const [w, b] = node.weights;
      const units = node.attrs.units;
      const inputs = e.inShapes[0]?.[0] ?? 1;
      const chunks = e.splitRows(w!, units);
      const bias = b === undefined ? {} : { bias: e.weight(b) };
      const io = { input: node.inputs[0]!, output: e.output, ...bias, ...epilogueOf(node) };
      for (const chunk of chunks) {
        if (e.choice?.kernel === "gemv") {
          e.emit(
            gemvKernel(
              { ...io, weight: chunk.name, inputs, units, channels: chunk.rows },
              e.choice.shape,
            ),
          );
          continue;
        }
        const gemm = {
          ...io,
          weight: chunk.name,
          inShape: [inputs, 1, 1] as const,
          outShape: [units, 1, 1] as const,
          k: [1, 1] as const,
          s: [1, 1] as const,
          d: [1, 1] as const,
          pad: [0, 0] as const,
          channels: chunk.rows,
        };
        e.emit(gemmConvKernel(gemm, e.choice?.kernel === "gemm" ? e.choice.tiles : defaultTiles));
      }
    },
    toOnnx(node, w) {
      writeEpilogue(w, node, (out) =>
        w.node("Gemm", [node.inputs[0]!, ...node.weights], out, { transB: int(1) }),
      );
    },
    fromOnnx: { Gemm: readGemm, MatMul: readMatMul },
    cnn: {
      layers: {
        dense: {
          doc: "fully connected layer",
          params: [
            { name: "units", kind: "count" },
            { name: "bias", kind: "bool", default: true },
          ],
          lower(a, site) {
            flatInput(site, "dense");
            return {
              op: "dense",
              attrs: { units: a.int("units"), bias: a.bool("bias"), ...noEpilogue },
            };
          },
        },
      },
      print(node) {
        if (node.attrs.act !== "none" || node.inputs.length > 1)
          throw new Error("internal: fused epilogues have no .cnn form");
        return `dense(${node.attrs.units}, bias=${node.attrs.bias})`;
      },
    },
  },
};
