// The op table: for every IR op, its attributes (typed), how many inputs it takes, the weights
// it owns and its shape rule. Everything that must know "what is a conv2d" reads it from here:
// lowering, the verifier, the text reader and printer, analysis. Adding an op means adding one
// entry here; the compiler then points at every table elsewhere (MACs, kernels) that lacks it.
import { elementCount, formatShape, type Shape } from "./graph.js";

export type Pair = readonly [number, number];
/** Padding as [top, left, bottom, right]. */
export type Quad = readonly [number, number, number, number];
export type PadMode = "zeros" | "replicate" | "reflect";
export const padModes: readonly PadMode[] = ["zeros", "replicate", "reflect"];
export type UpsampleMode = "nearest" | "bilinear";

/** An activation a conv or dense layer applies in its epilogue (fusion puts it there). */
export type EpilogueAct =
  | "none"
  | "relu"
  | "relu6"
  | "leaky_relu"
  | "sigmoid"
  | "tanh"
  | "gelu"
  | "silu"
  | "hardswish"
  | "hardsigmoid";
export const epilogueActs: readonly EpilogueAct[] = [
  "none",
  "relu",
  "relu6",
  "leaky_relu",
  "sigmoid",
  "tanh",
  "gelu",
  "silu",
  "hardswish",
  "hardsigmoid",
];

/**
 * The epilogue of conv2d and dense: y = act(conv(x) + bias + residual), where the residual is
 * an optional second input of the output's shape and `alpha` is leaky_relu's slope.
 */
interface Epilogue {
  readonly act: EpilogueAct;
  readonly alpha: number;
}
/**
 * An activation applied to the result of a pooling, batch norm or elementwise op in the same
 * kernel (set by fuse-activation). Optional: the front end never writes it; absent means none.
 */
interface PostAct {
  readonly act?: EpilogueAct;
  readonly alpha?: number;
}
export const upsampleModes: readonly UpsampleMode[] = ["nearest", "bilinear"];

interface ConvAttrs {
  readonly filters: number;
  readonly k: Pair;
  readonly s: Pair;
  readonly p: Quad;
  readonly d: Pair;
  readonly g: number;
  readonly padmode: PadMode;
  readonly bias: boolean;
}
interface PoolAttrs {
  readonly k: Pair;
  readonly s: Pair;
  readonly p: Quad;
  readonly ceil: boolean;
}
type NoAttrs = Readonly<Record<never, never>>;

export interface OpAttrs {
  conv2d: ConvAttrs & Epilogue;
  /** Transposed convolution; `outpad` adds rows/columns at the bottom/right of the output. */
  deconv2d: Omit<ConvAttrs, "padmode"> & { readonly outpad: Pair };
  /** Depthwise (`mult` filters per channel) then pointwise 1x1; bias after the pointwise. */
  sepconv2d: Omit<ConvAttrs, "g"> & { readonly mult: number };
  maxpool2d: PoolAttrs & PostAct;
  /** `count_pad`: padded zeros count in the divisor (PyTorch's count_include_pad). */
  avgpool2d: PoolAttrs & { readonly count_pad: boolean } & PostAct;
  globalavgpool: PostAct;
  globalmaxpool: PostAct;
  batchnorm: { readonly eps: number } & PostAct;
  dense: { readonly units: number; readonly bias: boolean } & Epilogue;
  flatten: NoAttrs;
  dropout: { readonly p: number };
  upsample: { readonly scale: Pair; readonly mode: UpsampleMode };
  pad: { readonly p: Quad; readonly mode: PadMode; readonly value: number };
  lrn: { readonly size: number; readonly alpha: number; readonly beta: number; readonly k: number };
  relu: NoAttrs;
  relu6: NoAttrs;
  leaky_relu: { readonly alpha: number };
  sigmoid: NoAttrs;
  tanh: NoAttrs;
  gelu: NoAttrs;
  silu: NoAttrs;
  hardswish: NoAttrs;
  hardsigmoid: NoAttrs;
  /** Over channels (axis 1 of NCHW), or over features for a flat input. */
  softmax: NoAttrs;
  /** Along channels. */
  concat: NoAttrs;
  /** Elementwise, with NumPy broadcasting over [C, H, W]. */
  add: PostAct;
  mul: PostAct;
}

export type OpKind = keyof OpAttrs;

/** How an attribute is written and checked: a scalar, a fixed-length list, or an enum. */
export type AttrKind = "int" | "float" | "bool" | "pair" | "quad" | readonly string[];

export interface WeightSpec {
  /** The suffix of the weight's name: `weight`, `bias`, `gamma`, ... */
  readonly role: string;
  readonly shape: Shape;
  /** Running statistics (BN mean/var): stored, not trained; not counted as parameters. */
  readonly stat?: boolean;
}

/** A shape rule's complaint, worded without the op name (the caller knows what to call it). */
export class ShapeError extends Error {}

/** Exact input count; "many": two or more; "residual": one, and an optional residual. */
export type Arity = number | "many" | "residual";

export interface OpDef<K extends OpKind> {
  readonly attrs: { readonly [A in keyof OpAttrs[K]]-?: AttrKind };
  /** Values an attribute takes unless said otherwise; the text form leaves them out. */
  readonly defaults?: Partial<OpAttrs[K]>;
  readonly arity: Arity;
  weights(attrs: OpAttrs[K], inputs: readonly Shape[]): readonly WeightSpec[];
  infer(attrs: OpAttrs[K], inputs: readonly Shape[]): Shape;
}

// ---- shape helpers -------------------------------------------------------------------------

/** Tensors are capped so that every count below stays an exact integer in a double. */
const maxElements = 2 ** 40;

function checked(shape: number[]): Shape {
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new ShapeError(`the output ${formatShape(shape)} would be empty`);
  }
  if (elementCount(shape) > maxElements) {
    throw new ShapeError(`the output ${formatShape(shape)} is too large (over 2^40 elements)`);
  }
  return shape;
}

function spatial(input: Shape | undefined): readonly [number, number, number] {
  if (!input || input.length !== 3) {
    throw new ShapeError(`expects a [C, H, W] input, got ${formatShape(input ?? [])}`);
  }
  return [input[0]!, input[1]!, input[2]!];
}

function pairText(a: number, b: number): string {
  return `${a}x${b}`;
}

function checkReflect(p: Quad, h: number, w: number, mode: PadMode): void {
  if (mode !== "reflect") return;
  const [t, l, b, r] = p;
  if (Math.max(t, b) >= h || Math.max(l, r) >= w) {
    throw new ShapeError(
      `reflect padding ${formatShape(p)} must be smaller than the input ${pairText(h, w)}`,
    );
  }
}

/** Output size of a sliding window, PyTorch's rule (ceil mode included). */
export function windowOutput(
  size: number,
  k: number,
  s: number,
  pBegin: number,
  pEnd: number,
  d: number,
  ceil: boolean,
): number {
  const span = size + pBegin + pEnd - (d * (k - 1) + 1);
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // In ceil mode the last window must start inside the input or its left padding.
  if (ceil && (out - 1) * s >= size + pBegin) out--;
  return out;
}

function slidingWindow(
  what: string,
  input: Shape | undefined,
  k: Pair,
  s: Pair,
  p: Quad,
  d: Pair,
  ceil: boolean,
): [number, number] {
  const [, h, w] = spatial(input);
  const [t, l, b, r] = p;
  const ph = h + t + b;
  const pw = w + l + r;
  const kh = d[0] * (k[0] - 1) + 1;
  const kw = d[1] * (k[1] - 1) + 1;
  if (kh > ph || kw > pw) {
    const dilated = d[0] > 1 || d[1] > 1 ? ` (dilated to ${pairText(kh, kw)})` : "";
    const padded = t + l + b + r > 0 ? "padded input" : "input";
    throw new ShapeError(
      `${what} ${pairText(k[0], k[1])}${dilated} is larger than the ${padded} ${pairText(ph, pw)}`,
    );
  }
  return [
    windowOutput(h, k[0], s[0], t, b, d[0], ceil),
    windowOutput(w, k[1], s[1], l, r, d[1], ceil),
  ];
}

function divisible(what: string, n: number, g: number): void {
  if (n % g !== 0) throw new ShapeError(`${what} ${n} are not divisible by groups ${g}`);
}

// ---- the table -----------------------------------------------------------------------------

const none: readonly WeightSpec[] = [];
const noWeights = (): readonly WeightSpec[] => none;
const sameShape = (_: unknown, inputs: readonly Shape[]): Shape => inputs[0] ?? [];
const channelStats = (inputs: readonly Shape[]): number => inputs[0]?.[0] ?? 0;

function unary<K extends OpKind>(attrs: OpDef<K>["attrs"]): OpDef<K> {
  return { attrs, arity: 1, weights: noWeights, infer: sameShape };
}

const poolAttrs = { k: "pair", s: "pair", p: "quad", ceil: "bool" } as const;
const epilogueAttrs = { act: epilogueActs, alpha: "float" } as const;
const epilogueDefaults = { act: "none", alpha: 0 } as const;

/** The optional residual input must have exactly the output's shape. */
function checkResidual(out: Shape, residual: Shape | undefined): Shape {
  if (residual && (residual.length !== out.length || residual.some((d, i) => d !== out[i]))) {
    throw new ShapeError(
      `residual ${formatShape(residual)} does not match the output ${formatShape(out)}`,
    );
  }
  return out;
}
const convAttrs = { filters: "int", k: "pair", s: "pair", p: "quad", d: "pair" } as const;

function pool(attrs: PoolAttrs, inputs: readonly Shape[]): Shape {
  const [c] = spatial(inputs[0]);
  const [t, l, b, r] = attrs.p;
  if (Math.max(t, b) >= attrs.k[0] || Math.max(l, r) >= attrs.k[1]) {
    throw new ShapeError(
      `padding ${formatShape(attrs.p)} must be smaller than the window ${pairText(...attrs.k)}`,
    );
  }
  const [ho, wo] = slidingWindow(
    "window",
    inputs[0],
    attrs.k,
    attrs.s,
    attrs.p,
    [1, 1],
    attrs.ceil,
  );
  return checked([c, ho, wo]);
}

function globalPool(_: NoAttrs, inputs: readonly Shape[]): Shape {
  const [c] = spatial(inputs[0]);
  return [c, 1, 1];
}

/** NumPy broadcasting of same-rank shapes: each dimension equal, or 1. */
function broadcast(inputs: readonly Shape[]): Shape {
  const first = inputs[0] ?? [];
  for (const other of inputs.slice(1)) {
    const ok =
      other.length === first.length &&
      other.every((d, i) => d === first[i] || d === 1 || first[i] === 1);
    if (!ok) throw new ShapeError(`${formatShape(first)} vs ${formatShape(other)}`);
  }
  return first.map((_, i) => Math.max(...inputs.map((s) => s[i]!)));
}

export const ops: { readonly [K in OpKind]: OpDef<K> } = {
  conv2d: {
    attrs: { ...convAttrs, g: "int", padmode: padModes, bias: "bool", ...epilogueAttrs },
    defaults: epilogueDefaults,
    arity: "residual",
    weights: (a, [x]) => [
      { role: "weight", shape: [a.filters, (x?.[0] ?? 0) / a.g, a.k[0], a.k[1]] },
      ...(a.bias ? [{ role: "bias", shape: [a.filters] }] : []),
    ],
    infer(a, [x, residual]) {
      const [c, h, w] = spatial(x);
      divisible("input channels", c, a.g);
      divisible("filters", a.filters, a.g);
      checkReflect(a.p, h, w, a.padmode);
      const [ho, wo] = slidingWindow("kernel", x, a.k, a.s, a.p, a.d, false);
      return checkResidual(checked([a.filters, ho, wo]), residual);
    },
  },
  deconv2d: {
    attrs: { ...convAttrs, g: "int", outpad: "pair", bias: "bool" },
    arity: 1,
    weights: (a, [x]) => [
      { role: "weight", shape: [x?.[0] ?? 0, a.filters / a.g, a.k[0], a.k[1]] },
      ...(a.bias ? [{ role: "bias", shape: [a.filters] }] : []),
    ],
    infer(a, [x]) {
      const [c, h, w] = spatial(x);
      divisible("input channels", c, a.g);
      divisible("filters", a.filters, a.g);
      a.outpad.forEach((o, i) => {
        if (o >= Math.max(a.s[i]!, a.d[i]!)) {
          throw new ShapeError(
            `output_pad ${formatShape(a.outpad)} must be smaller than the stride or the dilation`,
          );
        }
      });
      // Each input pixel scatters a kernel footprint `s` apart; padding crops the result.
      const out = (size: number, i: 0 | 1): number =>
        (size - 1) * a.s[i] - a.p[i]! - a.p[i + 2]! + a.d[i] * (a.k[i] - 1) + a.outpad[i] + 1;
      return checked([a.filters, out(h, 0), out(w, 1)]);
    },
  },
  sepconv2d: {
    attrs: { ...convAttrs, mult: "int", padmode: padModes, bias: "bool" },
    arity: 1,
    weights: (a, [x]) => {
      const mid = (x?.[0] ?? 0) * a.mult;
      return [
        { role: "depthwise.weight", shape: [mid, 1, a.k[0], a.k[1]] },
        { role: "pointwise.weight", shape: [a.filters, mid, 1, 1] },
        ...(a.bias ? [{ role: "bias", shape: [a.filters] }] : []),
      ];
    },
    infer(a, [x]) {
      const [, h, w] = spatial(x);
      checkReflect(a.p, h, w, a.padmode);
      const [ho, wo] = slidingWindow("kernel", x, a.k, a.s, a.p, a.d, false);
      return checked([a.filters, ho, wo]);
    },
  },
  maxpool2d: {
    attrs: { ...poolAttrs, ...epilogueAttrs },
    defaults: epilogueDefaults,
    arity: 1,
    weights: noWeights,
    infer: pool,
  },
  avgpool2d: {
    attrs: { ...poolAttrs, count_pad: "bool", ...epilogueAttrs },
    defaults: epilogueDefaults,
    arity: 1,
    weights: noWeights,
    infer: pool,
  },
  globalavgpool: {
    attrs: epilogueAttrs,
    defaults: epilogueDefaults,
    arity: 1,
    weights: noWeights,
    infer: globalPool,
  },
  globalmaxpool: {
    attrs: epilogueAttrs,
    defaults: epilogueDefaults,
    arity: 1,
    weights: noWeights,
    infer: globalPool,
  },
  batchnorm: {
    attrs: { eps: "float", ...epilogueAttrs },
    defaults: epilogueDefaults,
    arity: 1,
    weights: (_, inputs) => {
      const c = [channelStats(inputs)];
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
  },
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
  },
  flatten: {
    attrs: {},
    arity: 1,
    weights: noWeights,
    infer: (_, [x]) => [elementCount(x ?? [])],
  },
  dropout: {
    attrs: { p: "float" },
    arity: 1,
    weights: noWeights,
    infer(a, [x]) {
      if (!(a.p >= 0 && a.p < 1)) throw new ShapeError(`p must be in [0, 1), got ${a.p}`);
      return x ?? [];
    },
  },
  upsample: {
    attrs: { scale: "pair", mode: upsampleModes },
    arity: 1,
    weights: noWeights,
    infer(a, [x]) {
      const [c, h, w] = spatial(x);
      return checked([c, h * a.scale[0], w * a.scale[1]]);
    },
  },
  pad: {
    attrs: { p: "quad", mode: padModes, value: "float" },
    arity: 1,
    weights: noWeights,
    infer(a, [x]) {
      const [c, h, w] = spatial(x);
      checkReflect(a.p, h, w, a.mode);
      const [t, l, b, r] = a.p;
      return checked([c, h + t + b, w + l + r]);
    },
  },
  lrn: {
    attrs: { size: "int", alpha: "float", beta: "float", k: "float" },
    arity: 1,
    weights: noWeights,
    infer(_, [x]) {
      spatial(x);
      return x ?? [];
    },
  },
  relu: unary({}),
  relu6: unary({}),
  leaky_relu: unary({ alpha: "float" }),
  sigmoid: unary({}),
  tanh: unary({}),
  gelu: unary({}),
  silu: unary({}),
  hardswish: unary({}),
  hardsigmoid: unary({}),
  softmax: unary({}),
  concat: {
    attrs: {},
    arity: "many",
    weights: noWeights,
    infer(_, inputs) {
      const first = inputs[0] ?? [];
      for (const other of inputs.slice(1)) {
        const ok =
          other.length === first.length && other.every((d, i) => i === 0 || d === first[i]);
        if (!ok) throw new ShapeError(`${formatShape(first)} vs ${formatShape(other)}`);
      }
      return [inputs.reduce((sum, s) => sum + s[0]!, 0), ...first.slice(1)];
    },
  },
  add: {
    attrs: epilogueAttrs,
    defaults: epilogueDefaults,
    arity: "many",
    weights: noWeights,
    infer: (_, inputs) => broadcast(inputs),
  },
  mul: {
    attrs: epilogueAttrs,
    defaults: epilogueDefaults,
    arity: "many",
    weights: noWeights,
    infer: (_, inputs) => broadcast(inputs),
  },
};

export const opKinds = Object.keys(ops) as OpKind[];

export function isOpKind(name: string): name is OpKind {
  return Object.hasOwn(ops, name);
}

/** The op's definition, typed for any node (method parameters are bivariant, so this holds). */
export function opDef(op: OpKind): OpDef<OpKind> {
  return ops[op] as OpDef<OpKind>;
}

/** The input count an op accepts, as a sentence fragment. */
export function arityText(arity: Arity): string {
  if (arity === "residual") return "one input and an optional residual";
  return arity === "many" ? "two or more inputs" : arity === 1 ? "one input" : `${arity} inputs`;
}

export function arityAllows(arity: Arity, n: number): boolean {
  if (arity === "many") return n >= 2;
  if (arity === "residual") return n === 1 || n === 2;
  return n === arity;
}

/** An attribute's value, its default where the node leaves it out. */
export function attrValue(
  node: { readonly op: OpKind; readonly attrs: object },
  key: string,
): unknown {
  const value = (node.attrs as Readonly<Record<string, unknown>>)[key];
  if (value !== undefined) return value;
  return (opDef(node.op).defaults as Readonly<Record<string, unknown>> | undefined)?.[key];
}

/** Ops that may carry a post-activation (`act`, `alpha` without a residual input). */
export const postActOps: ReadonlySet<OpKind> = new Set<OpKind>([
  "maxpool2d",
  "avgpool2d",
  "globalavgpool",
  "globalmaxpool",
  "batchnorm",
  "add",
  "mul",
]);

/** The activation a node applies to its result: conv2d/dense epilogues and post-activations. */
export function nodeActivation(node: { readonly op: OpKind; readonly attrs: object }): {
  readonly act: EpilogueAct;
  readonly alpha: number;
} {
  const act = attrValue(node, "act");
  return act === undefined
    ? { act: "none", alpha: 0 }
    : { act: act as EpilogueAct, alpha: (attrValue(node, "alpha") as number | undefined) ?? 0 };
}
