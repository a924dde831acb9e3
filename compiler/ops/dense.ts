// Fully connected layers: y = act(W x + b + residual), W: [units, inputs] (PyTorch's layout).
// ONNX writes them as Gemm or as MatMul (+ Add); both import here.
import { formatShape } from "../ir/graph.js";
import { defaultTiles, gemmConvKernel } from "../codegen/gemm.js";
import { gemvKernel } from "../codegen/gemv.js";
import {
  applyEpilogue,
  epilogueAttrs,
  epilogueDefaults,
  writeEpilogue,
  type Epilogue,
} from "./conv.js";
import { epilogueOf } from "./emit.js";
import { wholeMap } from "./field.js";
import { flatInput, noEpilogue } from "./language.js";
import { int, type OnnxConstant, type OnnxReader } from "./onnx.js";
import { checked, checkResidual } from "./shape-rules.js";
import { ShapeError, type Family } from "./types.js";

export interface DenseFamily {
  dense: { readonly units: number; readonly bias: boolean } & Epilogue;
}

/** Gemm: y = alpha * A B' + beta * C, B' = B or its transpose; A is the input, B and C constant. */
function readGemm(r: OnnxReader): void {
  if (r.attrInt("transA", 0)) r.fail("transA is not supported");
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

/** cnnc's dense weight ([units, inputs]) from a MatMul's constant operand ([inputs, units]). */
export function matMulWeight(w: OnnxConstant): Float32Array {
  const [inputs, units] = [w.dims[0]!, w.dims[1]!];
  const t = new Float32Array(inputs * units);
  for (let i = 0; i < inputs; i++)
    for (let u = 0; u < units; u++) t[u * inputs + i] = w.data[i * units + u]!;
  return t;
}

/** MatMul by a constant [inputs, units] matrix (with an Add of a bias: onnx/patterns.ts). */
function readMatMul(r: OnnxReader): void {
  const w = r.constant(1);
  if (w.dims.length !== 2) r.fail(`the constant operand must be 2-D, got ${w.dims.length}-D`);
  const [inputs, units] = [w.dims[0]!, w.dims[1]!];
  const x = r.value(0);
  const features = r.shapeOf(x);
  if (features.length !== 1 || features[0] !== inputs)
    r.fail(`the constant operand takes ${inputs} inputs, the input is ${formatShape(features)}`);
  r.emit("dense", [x], { units, bias: false, ...noEpilogue }, [matMulWeight(w)]);
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
