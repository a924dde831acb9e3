// The one activation table. Each activation says here what it computes (the float64
// reference), how WGSL computes it, how ONNX spells it both ways and how the language writes
// it; the unary activation ops (activation-ops.ts), every conv/dense epilogue and every fused
// post-activation derive from it. Adding an activation is one entry here and one line in
// `ActivationAttrs`.
import type { OnnxReader, OnnxWriter } from "./onnx.js";
import { float } from "./onnx.js";
import type { NoAttrs } from "./types.js";

/** The attributes of each activation op: `alpha` for those with a parameter. */
export interface ActivationAttrs {
  relu: NoAttrs;
  relu6: NoAttrs;
  leaky_relu: { readonly alpha: number };
  elu: { readonly alpha: number };
  sigmoid: NoAttrs;
  tanh: NoAttrs;
  gelu: NoAttrs;
  silu: NoAttrs;
  hardswish: NoAttrs;
  hardsigmoid: NoAttrs;
  gelu_tanh: NoAttrs;
  mish: NoAttrs;
  softplus: NoAttrs;
  softsign: NoAttrs;
  selu: NoAttrs;
  neg: NoAttrs;
  abs: NoAttrs;
  sqrt: NoAttrs;
  exp: NoAttrs;
  log: NoAttrs;
  reciprocal: NoAttrs;
  /** x^alpha, the exponent a constant. */
  pow: { readonly alpha: number };
}
export type ActivationName = keyof ActivationAttrs;

/** An activation a conv or dense layer applies in its epilogue, or a fused post-activation. */
export type EpilogueAct = "none" | ActivationName;

/** An activation as a kernel applies it: `alpha` is the parameter of those that have one. */
export interface Activation {
  readonly op: ActivationName;
  readonly alpha: number;
}

export interface ActivationDef {
  /** What it computes, as `cnnc` docs and the language reference print it. */
  readonly doc: string;
  /** The default of its one parameter (`alpha`); absent: it has none. */
  readonly alpha?: number;
  /** Floating-point operations per element (summary's FLOPs). */
  readonly flops: number;
  reference(v: number, alpha: number): number;
  /** d reference / dv at v (the backward pass; a kink takes the right-hand side's 0 or 1 as
   * PyTorch does: relu'(0) = 0). */
  derivative(v: number, alpha: number): number;
  /** The WGSL expression of its derivative at `v` (training's backward kernels; `decls` apply). */
  wgslDerivative(v: string, alpha: string): string;
  /** The WGSL expression of the activation of `v`; `alpha` is a WGSL f32 literal. */
  wgsl(v: string, alpha: string): string;
  /** Module-scope WGSL the expression needs. */
  readonly decls?: readonly string[];
  /** Writes `output = act(input)` as ONNX nodes. */
  toOnnx(w: OnnxWriter, input: string, output: string, alpha: number): void;
  /** ONNX op types that import as this activation. */
  readonly fromOnnx: Readonly<Record<string, (r: OnnxReader) => void>>;
}

/** erf to double precision: Taylor series near 0, Lentz continued fraction for erfc beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Abramowitz and Stegun 7.1.26: |error| < 1.5e-7, below f32 resolution of GELU's output. */
export const erfWgsl = `fn erf_approx(x: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-x * x);
  return select(-y, y, x >= 0.0);
}`;

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
/** log(1 + exp(x)) without overflow: x + log1p(exp(-x)) for positive x. */
const softplus = (v: number): number =>
  v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
const softplusWgsl = (v: string): string => `(max(${v}, 0.0) + log(1.0 + exp(-abs(${v}))))`;
const sigmoidWgsl = (v: string): string => `(1.0 / (1.0 + exp(-${v})))`;
function geluTanhDerivativeWgsl(v: string): string {
  const t = `tanh(clamp(0.7978845608028654 * (${v} + 0.044715 * ${v} * ${v} * ${v}), -15.0, 15.0))`;
  return `(0.5 * (1.0 + ${t}) + 0.5 * ${v} * (1.0 - ${t} * ${t}) * 0.7978845608028654 * (1.0 + 0.134145 * ${v} * ${v}))`;
}
// SELU's constants (Klambauer et al. 2017), as ONNX and PyTorch define them in float32.
const seluAlpha = 1.67326319217681884765625;
const seluGamma = 1.05070102214813232421875;
const geluTanh = (v: number): number =>
  0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
const relu6 = (v: number): number => Math.min(Math.max(v, 0), 6);
function geluTanhDerivative(v: number): number {
  const c = Math.sqrt(2 / Math.PI);
  const t = Math.tanh(c * (v + 0.044715 * v * v * v));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v);
}

/** An ONNX op with one input and the same meaning: `Relu` -> relu. */
function same(op: ActivationName) {
  return (r: OnnxReader): void => void r.emit(op, [r.value(0)], {});
}

/** A scalar constant input of an ONNX node, or `d` where the input is omitted. */
function scalarInput(r: OnnxReader, i: number, d: number): number {
  if (!r.hasInput(i)) return d;
  const c = r.constant(i);
  if (c.data.length !== 1) r.fail(`input ${i} must be a scalar, has ${c.data.length} values`);
  return c.data[0]!;
}

/** A unary ONNX op of no attributes, read as the activation `op` and written back as itself. */
function onnxUnary(onnxOp: string, op: ActivationName) {
  return {
    toOnnx: (w: OnnxWriter, x: string, y: string) => void w.node(onnxOp, [x], y),
    fromOnnx: { [onnxOp]: same(op) },
  };
}

export const activations: { readonly [K in ActivationName]: ActivationDef } = {
  relu: {
    doc: "max(x, 0)",
    flops: 1,
    wgslDerivative: (v) => `select(0.0, 1.0, ${v} > 0.0)`,
    derivative: (v) => (v > 0 ? 1 : 0),
    reference: (v) => Math.max(v, 0),
    wgsl: (v) => `max(${v}, 0.0)`,
    toOnnx: (w, x, y) => void w.node("Relu", [x], y),
    fromOnnx: { Relu: same("relu") },
  },
  relu6: {
    doc: "min(max(x, 0), 6)",
    flops: 2,
    wgslDerivative: (v) => `select(0.0, 1.0, ${v} > 0.0 && ${v} < 6.0)`,
    derivative: (v) => (v > 0 && v < 6 ? 1 : 0),
    reference: relu6,
    wgsl: (v) => `clamp(${v}, 0.0, 6.0)`,
    toOnnx: (w, x, y) =>
      void w.node("Clip", [x, w.floats("cnnc.zero", [], [0]), w.floats("cnnc.six", [], [6])], y),
    fromOnnx: {
      // Clip(0, 6) is relu6 and Clip(0, inf) relu; the bounds are inputs from opset 11.
      // Clip(0, 6) is relu6 and Clip(0, inf) relu (which fuse into a conv); any other bounds
      // are the clip op. The bounds are inputs from opset 11, attributes before.
      Clip(r) {
        const none = 3.4028234663852886e38;
        const bound = (v: number) => Math.max(Math.min(v, none), -none);
        const lo = bound(
          r.opset >= 11 ? scalarInput(r, 1, -Infinity) : r.attrFloat("min", -Infinity),
        );
        const hi = bound(
          r.opset >= 11 ? scalarInput(r, 2, Infinity) : r.attrFloat("max", Infinity),
        );
        if (lo === 0 && hi === 6) r.emit("relu6", [r.value(0)], {});
        else if (lo === 0 && hi === none) r.emit("relu", [r.value(0)], {});
        else r.emit("clip", [r.value(0)], { min: lo, max: hi });
      },
    },
  },
  leaky_relu: {
    doc: "x if x > 0 else alpha * x",
    alpha: 0.01,
    flops: 2,
    wgslDerivative: (v, alpha) => `select(${alpha}, 1.0, ${v} > 0.0)`,
    derivative: (v, alpha) => (v > 0 ? 1 : alpha),
    reference: (v, alpha) => (v > 0 ? v : alpha * v),
    wgsl: (v, alpha) => `select(${alpha} * ${v}, ${v}, ${v} > 0.0)`,
    toOnnx: (w, x, y, alpha) => void w.node("LeakyRelu", [x], y, { alpha: float(alpha) }),
    fromOnnx: {
      LeakyRelu: (r) => r.emit("leaky_relu", [r.value(0)], { alpha: r.attrFloat("alpha", 0.01) }),
    },
  },
  elu: {
    doc: "x if x > 0 else alpha * (exp(x) - 1)",
    alpha: 1,
    flops: 3,
    wgslDerivative: (v, alpha) => `select(${alpha} * exp(min(${v}, 0.0)), 1.0, ${v} > 0.0)`,
    derivative: (v, alpha) => (v > 0 ? 1 : alpha * Math.exp(v)),
    reference: (v, alpha) => (v > 0 ? v : alpha * Math.expm1(v)),
    // exp of min(x, 0): the unused branch of select stays finite.
    wgsl: (v, alpha) => `select(${alpha} * (exp(min(${v}, 0.0)) - 1.0), ${v}, ${v} > 0.0)`,
    toOnnx: (w, x, y, alpha) => void w.node("Elu", [x], y, { alpha: float(alpha) }),
    fromOnnx: { Elu: (r) => r.emit("elu", [r.value(0)], { alpha: r.attrFloat("alpha", 1) }) },
  },
  sigmoid: {
    doc: "1 / (1 + exp(-x))",
    flops: 4,
    wgslDerivative: (v) => `(${sigmoidWgsl(v)} * (1.0 - ${sigmoidWgsl(v)}))`,
    derivative: (v) => sigmoid(v) * (1 - sigmoid(v)),
    reference: sigmoid,
    wgsl: (v) => `(1.0 / (1.0 + exp(-${v})))`,
    toOnnx: (w, x, y) => void w.node("Sigmoid", [x], y),
    fromOnnx: { Sigmoid: same("sigmoid") },
  },
  tanh: {
    doc: "tanh(x)",
    flops: 4,
    wgslDerivative: (v) =>
      `(1.0 - tanh(clamp(${v}, -15.0, 15.0)) * tanh(clamp(${v}, -15.0, 15.0)))`,
    derivative: (v) => 1 - Math.tanh(v) ** 2,
    reference: Math.tanh,
    // tanh saturates long before 15; clamping keeps exp-based implementations finite.
    wgsl: (v) => `tanh(clamp(${v}, -15.0, 15.0))`,
    toOnnx: (w, x, y) => void w.node("Tanh", [x], y),
    fromOnnx: { Tanh: same("tanh") },
  },
  gelu: {
    doc: "x * Phi(x) (exact, erf form)",
    flops: 8,
    wgslDerivative: (v) =>
      `(0.5 * (1.0 + erf_approx(${v} * 0.7071067811865476)) + ${v} * exp(-0.5 * ${v} * ${v}) * 0.3989422804014327)`,
    derivative: (v) =>
      0.5 * (1 + erf(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI),
    reference: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
    wgsl: (v) => `(0.5 * ${v} * (1.0 + erf_approx(${v} * 0.7071067811865476)))`,
    decls: [erfWgsl],
    toOnnx(w, x, y) {
      // 0.5 * x * (1 + erf(x / sqrt(2)))
      const root2 = w.floats("cnnc.sqrt2", [], [Math.SQRT2]);
      const one = w.floats("cnnc.one", [], [1]);
      const half = w.floats("cnnc.half", [], [0.5]);
      const d = w.node("Div", [x, root2], `${y}.div`);
      const e = w.node("Erf", [d], `${y}.erf`);
      const a = w.node("Add", [e, one], `${y}.add`);
      const m = w.node("Mul", [x, a], `${y}.mul`);
      w.node("Mul", [m, half], y);
    },
    fromOnnx: {
      Gelu(r) {
        const form = r.attrStr("approximate", "none");
        if (form !== "none" && form !== "tanh") r.fail(`approximate '${form}' is not an ONNX form`);
        r.emit(form === "tanh" ? "gelu_tanh" : "gelu", [r.value(0)], {});
      },
    },
  },
  silu: {
    doc: "x * sigmoid(x) (swish)",
    flops: 5,
    wgslDerivative: (v) => `(${sigmoidWgsl(v)} * (1.0 + ${v} * (1.0 - ${sigmoidWgsl(v)})))`,
    derivative: (v) => sigmoid(v) * (1 + v * (1 - sigmoid(v))),
    reference: (v) => v * sigmoid(v),
    wgsl: (v) => `(${v} / (1.0 + exp(-${v})))`,
    toOnnx(w, x, y) {
      const s = w.node("Sigmoid", [x], `${y}.sigmoid`);
      w.node("Mul", [x, s], y);
    },
    fromOnnx: {},
  },
  hardswish: {
    doc: "x * relu6(x + 3) / 6",
    flops: 4,
    wgslDerivative: (v) =>
      `select(select((2.0 * ${v} + 3.0) / 6.0, 1.0, ${v} >= 3.0), 0.0, ${v} <= -3.0)`,
    derivative: (v) => (v <= -3 ? 0 : v >= 3 ? 1 : (2 * v + 3) / 6),
    reference: (v) => (v * relu6(v + 3)) / 6,
    wgsl: (v) => `(${v} * clamp(${v} + 3.0, 0.0, 6.0) / 6.0)`,
    toOnnx: (w, x, y) => void w.node("HardSwish", [x], y),
    fromOnnx: { HardSwish: same("hardswish") },
  },
  hardsigmoid: {
    doc: "relu6(x + 3) / 6",
    flops: 3,
    wgslDerivative: (v) => `select(0.0, 1.0 / 6.0, ${v} > -3.0 && ${v} < 3.0)`,
    derivative: (v) => (v > -3 && v < 3 ? 1 / 6 : 0),
    reference: (v) => relu6(v + 3) / 6,
    wgsl: (v) => `(clamp(${v} + 3.0, 0.0, 6.0) / 6.0)`,
    toOnnx: (w, x, y) =>
      void w.node("HardSigmoid", [x], y, { alpha: float(1 / 6), beta: float(0.5) }),
    fromOnnx: {
      HardSigmoid(r) {
        const a = r.attrFloat("alpha", 0.2);
        const b = r.attrFloat("beta", 0.5);
        const x = r.value(0);
        if (Math.fround(a) === Math.fround(1 / 6) && Math.fround(b) === Math.fround(0.5)) {
          r.emit("hardsigmoid", [x], {});
          return;
        }
        // max(0, min(1, alpha x + beta)) for any constants (TensorFlow's is alpha 0.2).
        const channels = r.shapeOf(x)[0] ?? 1;
        r.note("HardSigmoid as scale and clip");
        const scaled = r.emit("scale", [x], {}, [
          new Float32Array(channels).fill(a),
          new Float32Array(channels).fill(b),
        ]);
        r.emit("clip", [scaled], { min: 0, max: 1 });
      },
    },
  },
  gelu_tanh: {
    doc: "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GELU's tanh form)",
    flops: 9,
    wgslDerivative: geluTanhDerivativeWgsl,
    derivative: geluTanhDerivative,
    reference: geluTanh,
    wgsl: (v) =>
      `(0.5 * ${v} * (1.0 + tanh(clamp(0.7978845608028654 * (${v} + 0.044715 * ${v} * ${v} * ${v}), -15.0, 15.0))))`,
    toOnnx(w, x, y) {
      // ONNX's Gelu op is opset 20; written out for the exporter's opset 17:
      // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
      const x3 = w.node("Mul", [x, w.node("Mul", [x, x], `${y}.sq`)], `${y}.cube`);
      const inner = w.node(
        "Add",
        [x, w.node("Mul", [x3, w.floats("cnnc.gelu_c", [], [0.044715])], `${y}.c`)],
        `${y}.inner`,
      );
      const t = w.node(
        "Tanh",
        [
          w.node(
            "Mul",
            [inner, w.floats("cnnc.sqrt_2_pi", [], [Math.sqrt(2 / Math.PI)])],
            `${y}.k`,
          ),
        ],
        `${y}.tanh`,
      );
      const one = w.node("Add", [t, w.floats("cnnc.one", [], [1])], `${y}.one`);
      const half = w.node("Mul", [x, w.floats("cnnc.half", [], [0.5])], `${y}.half`);
      w.node("Mul", [half, one], y);
    },
    // read by gelu's Gelu reader (approximate="tanh")
    fromOnnx: {},
  },
  mish: {
    doc: "x * tanh(softplus(x))",
    flops: 8,
    wgslDerivative: (v) =>
      `(tanh(clamp(${softplusWgsl(v)}, -15.0, 15.0)) + ${v} * (1.0 - tanh(clamp(${softplusWgsl(v)}, -15.0, 15.0)) * tanh(clamp(${softplusWgsl(v)}, -15.0, 15.0))) * ${sigmoidWgsl(v)})`,
    derivative: (v) => Math.tanh(softplus(v)) + v * (1 - Math.tanh(softplus(v)) ** 2) * sigmoid(v),
    reference: (v) => v * Math.tanh(softplus(v)),
    wgsl: (v) => `(${v} * tanh(clamp(${softplusWgsl(v)}, -15.0, 15.0)))`,
    // ONNX's Mish op is opset 18; written out for the exporter's opset 17.
    toOnnx(w, x, y) {
      const sp = w.node("Softplus", [x], `${y}.softplus`);
      w.node("Mul", [x, w.node("Tanh", [sp], `${y}.tanh`)], y);
    },
    fromOnnx: { Mish: same("mish") },
  },
  softplus: {
    doc: "log(1 + exp(x))",
    flops: 4,
    wgslDerivative: sigmoidWgsl,
    derivative: sigmoid,
    reference: softplus,
    wgsl: softplusWgsl,
    ...onnxUnary("Softplus", "softplus"),
  },
  softsign: {
    doc: "x / (1 + |x|)",
    flops: 3,
    wgslDerivative: (v) => `(1.0 / ((1.0 + abs(${v})) * (1.0 + abs(${v}))))`,
    derivative: (v) => 1 / (1 + Math.abs(v)) ** 2,
    reference: (v) => v / (1 + Math.abs(v)),
    wgsl: (v) => `(${v} / (1.0 + abs(${v})))`,
    ...onnxUnary("Softsign", "softsign"),
  },
  selu: {
    doc: "1.0507 * (x if x > 0 else 1.6733 * (exp(x) - 1)) (self-normalising)",
    flops: 4,
    wgslDerivative: (v) =>
      `(${seluGamma} * select(${seluAlpha} * exp(min(${v}, 0.0)), 1.0, ${v} > 0.0))`,
    derivative: (v) => seluGamma * (v > 0 ? 1 : seluAlpha * Math.exp(v)),
    reference: (v) => seluGamma * (v > 0 ? v : seluAlpha * Math.expm1(v)),
    wgsl: (v) =>
      `(${seluGamma} * select(${seluAlpha} * (exp(min(${v}, 0.0)) - 1.0), ${v}, ${v} > 0.0))`,
    toOnnx: (w, x, y) => void w.node("Selu", [x], y),
    fromOnnx: {
      Selu(r) {
        const a = r.attrFloat("alpha", seluAlpha);
        const g = r.attrFloat("gamma", seluGamma);
        if (Math.fround(a) !== Math.fround(seluAlpha) || Math.fround(g) !== Math.fround(seluGamma))
          r.fail(`alpha ${a}, gamma ${g}: only SELU's own constants are supported`);
        r.emit("selu", [r.value(0)], {});
      },
    },
  },
  neg: {
    doc: "-x",
    flops: 1,
    wgslDerivative: () => "-1.0",
    derivative: () => -1,
    reference: (v) => -v,
    wgsl: (v) => `(-${v})`,
    ...onnxUnary("Neg", "neg"),
  },
  abs: {
    doc: "|x|",
    flops: 1,
    wgslDerivative: (v) => `sign(${v})`,
    derivative: (v) => Math.sign(v),
    reference: Math.abs,
    wgsl: (v) => `abs(${v})`,
    ...onnxUnary("Abs", "abs"),
  },
  sqrt: {
    doc: "sqrt(x) (NaN below 0)",
    flops: 1,
    wgslDerivative: (v) => `(0.5 / sqrt(${v}))`,
    derivative: (v) => 0.5 / Math.sqrt(v),
    reference: Math.sqrt,
    wgsl: (v) => `sqrt(${v})`,
    ...onnxUnary("Sqrt", "sqrt"),
  },
  exp: {
    doc: "exp(x)",
    flops: 1,
    wgslDerivative: (v) => `exp(${v})`,
    derivative: Math.exp,
    reference: Math.exp,
    wgsl: (v) => `exp(${v})`,
    ...onnxUnary("Exp", "exp"),
  },
  log: {
    doc: "log(x) (natural; NaN below 0)",
    flops: 1,
    wgslDerivative: (v) => `(1.0 / ${v})`,
    derivative: (v) => 1 / v,
    reference: Math.log,
    wgsl: (v) => `log(${v})`,
    ...onnxUnary("Log", "log"),
  },
  reciprocal: {
    doc: "1 / x",
    flops: 1,
    wgslDerivative: (v) => `(-1.0 / (${v} * ${v}))`,
    derivative: (v) => -1 / (v * v),
    reference: (v) => 1 / v,
    wgsl: (v) => `(1.0 / ${v})`,
    ...onnxUnary("Reciprocal", "reciprocal"),
  },
  pow: {
    doc: "x ^ alpha, the exponent a constant",
    alpha: 2,
    flops: 2,
    wgslDerivative: (v, alpha) => `(${alpha} * pow_const(${v}, ${alpha} - 1.0))`,
    derivative: (v, alpha) => alpha * Math.pow(v, alpha - 1),
    reference: (v, alpha) => Math.pow(v, alpha),
    // WGSL's pow is undefined for a negative base: integer exponents multiply out.
    wgsl: (v, alpha) => `pow_const(${v}, ${alpha})`,
    decls: [
      `fn pow_const(x: f32, e: f32) -> f32 {
  if (e == round(e) && abs(e) <= 16.0) {
    var r = 1.0;
    for (var i = 0; i < i32(abs(e)); i++) { r *= x; }
    return select(r, 1.0 / r, e < 0.0);
  }
  return pow(x, e);
}`,
    ],
    toOnnx: (w, x, y, alpha) => void w.node("Pow", [x, w.floats(`${y}.exponent`, [], [alpha])], y),
    fromOnnx: {
      Pow(r) {
        const e = r.constant(1);
        if (e.data.length !== 1) r.fail("only a scalar constant exponent is supported");
        r.emit("pow", [r.value(0)], { alpha: e.data[0]! });
      },
    },
  },
};

export const activationNames = Object.keys(activations) as ActivationName[];
export const epilogueActs: readonly EpilogueAct[] = ["none", ...activationNames];

export function isActivation(op: string): op is ActivationName {
  return Object.hasOwn(activations, op);
}

/** The activation of an `act`/`alpha` attribute pair, or none. */
export function activationOf(act: EpilogueAct, alpha: number): Activation | undefined {
  return act === "none" ? undefined : { op: act, alpha };
}

/** act(v) on the CPU reference. */
/** act'(v) on the CPU reference (1 for none). */
export function activationDerivative(act: EpilogueAct, v: number, alpha: number): number {
  return act === "none" ? 1 : activations[act].derivative(v, alpha);
}

export function applyActivation(act: EpilogueAct, v: number, alpha: number): number {
  return act === "none" ? v : activations[act].reference(v, alpha);
}
