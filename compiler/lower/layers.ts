// The layers of the `.cnn` language (LANGUAGE.md's table): each one's arguments with their
// kinds and defaults, and how it becomes an IR node. `same` padding is resolved here, where the
// input shape is known, so the IR carries explicit [top, left, bottom, right] padding only.
import type { OpAttrs, OpKind, Pair, Quad } from "../ir/ops.js";
import { padModes, ShapeError, upsampleModes } from "../ir/ops.js";
import type { Shape } from "../ir/graph.js";
import { formatShape } from "../ir/graph.js";

export type Padding =
  | { readonly kind: "valid" }
  | { readonly kind: "same" }
  | { readonly kind: "explicit"; readonly p: Quad };

/**
 * How an argument is written:
 * count: integer >= 1; natural: integer >= 0; pair: count or [h, w]; pair0: natural or [h, w];
 * padding: valid | same | n | [ph, pw] | [top, left, bottom, right]; float; probability (0 <= p < 1);
 * bool: true | false; a list of words: one of them.
 */
export type ArgKind =
  | "count"
  | "natural"
  | "pair"
  | "pair0"
  | "padding"
  | "float"
  | "positive"
  | "probability"
  | "bool"
  | readonly string[];

export type ArgValue = number | Pair | boolean | string | Padding;

export interface ParamSpec {
  readonly name: string;
  readonly kind: ArgKind;
  /** Absent: the argument is required. A function: derived from the arguments before it. */
  readonly default?: ArgValue | ((args: Args) => ArgValue);
}

/** Bound, checked arguments of one layer call, read with typed getters. */
export class Args {
  constructor(private readonly values: ReadonlyMap<string, ArgValue>) {}
  private get(name: string): ArgValue {
    const v = this.values.get(name);
    if (v === undefined) throw new Error(`internal: argument '${name}' not bound`);
    return v;
  }
  int(name: string): number {
    return this.get(name) as number;
  }
  float(name: string): number {
    return this.get(name) as number;
  }
  pair(name: string): Pair {
    return this.get(name) as Pair;
  }
  bool(name: string): boolean {
    return this.get(name) as boolean;
  }
  word<T extends string>(name: string): T {
    return this.get(name) as T;
  }
  padding(name: string): Padding {
    return this.get(name) as Padding;
  }
}

export type NodeSpec = { [K in OpKind]: { readonly op: K; readonly attrs: OpAttrs[K] } }[OpKind];

/** What a layer's lowering can see and do besides returning its own node. */
export interface LayerSite {
  readonly input: Shape;
  /** Adds a helper node (auto-named `<kind>_<n>`) before the layer; returns its shape. */
  helper(kind: string, spec: NodeSpec): Shape;
  warn(message: string): void;
}

export interface LayerDef {
  readonly params: readonly ParamSpec[];
  readonly doc: string;
  lower(args: Args, site: LayerSite): NodeSpec;
}

// ---- padding -------------------------------------------------------------------------------

/**
 * `same` follows TensorFlow: out = ceil(in / stride), total padding
 * max((out - 1) * stride + dilated_kernel - in, 0), the odd pixel at the bottom/right.
 */
export function samePadding(input: Shape, k: Pair, s: Pair, d: Pair): Quad {
  const side = (size: number, i: 0 | 1): [number, number] => {
    const out = Math.ceil(size / s[i]);
    const total = Math.max((out - 1) * s[i] + d[i] * (k[i] - 1) + 1 - size, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [t, b] = side(input[1] ?? 1, 0);
  const [l, r] = side(input[2] ?? 1, 1);
  return [t, l, b, r];
}

function explicitPadding(pad: Padding, input: Shape, k: Pair, s: Pair, d: Pair): Quad {
  if (pad.kind === "valid") return [0, 0, 0, 0];
  if (pad.kind === "same") return samePadding(input, k, s, d);
  return pad.p;
}

/**
 * Transposed conv: `same` means out = in * stride, so the crop is dilated_kernel - stride
 * (plus output_pad), split with the odd pixel at the bottom/right.
 */
function deconvPadding(pad: Padding, k: Pair, s: Pair, d: Pair, outpad: Pair): Quad {
  if (pad.kind === "explicit") return pad.p;
  if (pad.kind === "valid") return [0, 0, 0, 0];
  const total = [0, 1].map((i) => d[i]! * (k[i]! - 1) + 1 - s[i]! + outpad[i]!);
  if (total.some((t) => t < 0)) {
    throw new ShapeError(
      `pad=same needs the kernel ${k[0]}x${k[1]} to be at least the stride ${s[0]}x${s[1]}`,
    );
  }
  const [th, tw] = total as [number, number];
  return [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
}

// ---- the table -----------------------------------------------------------------------------

const convCommon: readonly ParamSpec[] = [
  { name: "stride", kind: "pair", default: [1, 1] },
  { name: "pad", kind: "padding", default: { kind: "valid" } },
  { name: "dilation", kind: "pair", default: [1, 1] },
];

function activation(
  op:
    | "relu"
    | "relu6"
    | "sigmoid"
    | "tanh"
    | "gelu"
    | "silu"
    | "hardswish"
    | "hardsigmoid"
    | "softmax",
  doc: string,
): LayerDef {
  return { params: [], doc, lower: () => ({ op, attrs: {} }) };
}

function poolParams(extra: readonly ParamSpec[]): readonly ParamSpec[] {
  return [
    { name: "kernel", kind: "pair" },
    { name: "stride", kind: "pair", default: (a) => a.pair("kernel") },
    { name: "pad", kind: "padding", default: { kind: "valid" } },
    { name: "ceil", kind: "bool", default: false },
    ...extra,
  ];
}

function poolAttrs(a: Args, input: Shape): OpAttrs["maxpool2d"] {
  const k = a.pair("kernel");
  const s = a.pair("stride");
  return { k, s, p: explicitPadding(a.padding("pad"), input, k, s, [1, 1]), ceil: a.bool("ceil") };
}

/** Dense layers take flat input; a feature map is flattened first (C, then H, then W). */
function flatInput(site: LayerSite, layer: string): void {
  if (site.input.length === 1) return;
  const flat = site.input.reduce((x, y) => x * y, 1);
  const trivially = site.input.slice(1).every((d) => d === 1);
  if (!trivially) {
    site.warn(
      `${layer}: flattening its ${formatShape(site.input)} input to [${flat}]; write 'flatten' before it to say so`,
    );
  }
  site.helper("flatten", { op: "flatten", attrs: {} });
}

/** Kernel, stride, dilation and explicit padding of a convolution-like layer. */
function convWindow(a: Args, input: Shape): { k: Pair; s: Pair; d: Pair; p: Quad } {
  const k = a.pair("kernel");
  const s = a.pair("stride");
  const d = a.pair("dilation");
  return { k, s, d, p: explicitPadding(a.padding("pad"), input, k, s, d) };
}

/** Layers as written apply no activation of their own; fusion may give them one. */
const noEpilogue = { act: "none", alpha: 0 } as const;

const convTail: readonly ParamSpec[] = [
  { name: "bias", kind: "bool", default: true },
  { name: "padmode", kind: padModes, default: "zeros" },
];

export const layers: Readonly<Record<string, LayerDef>> = {
  conv: {
    doc: "2-D convolution",
    params: [
      { name: "filters", kind: "count" },
      { name: "kernel", kind: "pair" },
      ...convCommon,
      { name: "groups", kind: "count", default: 1 },
      ...convTail,
    ],
    lower: (a, site) => ({
      op: "conv2d",
      attrs: {
        filters: a.int("filters"),
        ...convWindow(a, site.input),
        g: a.int("groups"),
        padmode: a.word("padmode"),
        bias: a.bool("bias"),
        ...noEpilogue,
      },
    }),
  },
  dwconv: {
    doc: "depthwise convolution: one kernel (or `multiplier` kernels) per input channel",
    params: [
      { name: "kernel", kind: "pair" },
      ...convCommon,
      { name: "multiplier", kind: "count", default: 1 },
      ...convTail,
    ],
    lower(a, site) {
      const c = site.input[0] ?? 1;
      return {
        op: "conv2d",
        attrs: {
          filters: c * a.int("multiplier"),
          ...convWindow(a, site.input),
          g: c,
          padmode: a.word("padmode"),
          bias: a.bool("bias"),
          ...noEpilogue,
        },
      };
    },
  },
  sepconv: {
    doc: "depthwise then 1x1 pointwise convolution",
    params: [
      { name: "filters", kind: "count" },
      { name: "kernel", kind: "pair" },
      ...convCommon,
      { name: "multiplier", kind: "count", default: 1 },
      ...convTail,
    ],
    lower: (a, site) => ({
      op: "sepconv2d",
      attrs: {
        filters: a.int("filters"),
        ...convWindow(a, site.input),
        mult: a.int("multiplier"),
        padmode: a.word("padmode"),
        bias: a.bool("bias"),
      },
    }),
  },
  deconv: {
    doc: "transposed convolution",
    params: [
      { name: "filters", kind: "count" },
      { name: "kernel", kind: "pair" },
      { name: "stride", kind: "pair", default: [1, 1] },
      { name: "pad", kind: "padding", default: { kind: "valid" } },
      { name: "output_pad", kind: "pair0", default: [0, 0] },
      { name: "dilation", kind: "pair", default: [1, 1] },
      { name: "groups", kind: "count", default: 1 },
      { name: "bias", kind: "bool", default: true },
    ],
    lower(a) {
      const k = a.pair("kernel");
      const s = a.pair("stride");
      const d = a.pair("dilation");
      const outpad = a.pair("output_pad");
      const p = deconvPadding(a.padding("pad"), k, s, d, outpad);
      const attrs = { filters: a.int("filters"), k, s, p, d, g: a.int("groups"), outpad };
      return { op: "deconv2d", attrs: { ...attrs, bias: a.bool("bias") } };
    },
  },
  maxpool: {
    doc: "max pooling",
    params: poolParams([]),
    lower: (a, site) => ({ op: "maxpool2d", attrs: poolAttrs(a, site.input) }),
  },
  avgpool: {
    doc: "average pooling; count_pad counts padded zeros in the divisor",
    params: poolParams([{ name: "count_pad", kind: "bool", default: false }]),
    lower: (a, site) => ({
      op: "avgpool2d",
      attrs: { ...poolAttrs(a, site.input), count_pad: a.bool("count_pad") },
    }),
  },
  globalavgpool: {
    doc: "average over H and W, to [C, 1, 1]",
    params: [],
    lower: () => ({ op: "globalavgpool", attrs: {} }),
  },
  globalmaxpool: {
    doc: "maximum over H and W, to [C, 1, 1]",
    params: [],
    lower: () => ({ op: "globalmaxpool", attrs: {} }),
  },
  bn: {
    doc: "batch normalisation with running statistics",
    params: [
      { name: "eps", kind: "positive", default: 1e-5 },
      // Training-only; accepted so that models written for training read unchanged.
      { name: "momentum", kind: "probability", default: 0.1 },
    ],
    lower: (a) => ({ op: "batchnorm", attrs: { eps: a.float("eps") } }),
  },
  dense: {
    doc: "fully connected layer",
    params: [
      { name: "units", kind: "count" },
      { name: "bias", kind: "bool", default: true },
    ],
    lower(a, site) {
      flatInput(site, "dense");
      return { op: "dense", attrs: { units: a.int("units"), bias: a.bool("bias"), ...noEpilogue } };
    },
  },
  flatten: {
    doc: "to a vector, ordered C, then H, then W",
    params: [],
    lower: () => ({ op: "flatten", attrs: {} }),
  },
  dropout: {
    doc: "identity at inference",
    params: [{ name: "p", kind: "probability", default: 0.5 }],
    lower: (a) => ({ op: "dropout", attrs: { p: a.float("p") } }),
  },
  upsample: {
    doc: "upsampling by an integer factor",
    params: [
      { name: "scale", kind: "pair", default: [2, 2] },
      { name: "mode", kind: upsampleModes, default: "nearest" },
    ],
    lower: (a) => ({ op: "upsample", attrs: { scale: a.pair("scale"), mode: a.word("mode") } }),
  },
  pad: {
    doc: "explicit padding",
    params: [
      { name: "amount", kind: "padding" },
      { name: "mode", kind: padModes, default: "zeros" },
      { name: "value", kind: "float", default: 0 },
    ],
    lower(a, site) {
      const p = explicitPadding(a.padding("amount"), site.input, [1, 1], [1, 1], [1, 1]);
      return { op: "pad", attrs: { p, mode: a.word("mode"), value: a.float("value") } };
    },
  },
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
  relu: activation("relu", "max(x, 0)"),
  relu6: activation("relu6", "min(max(x, 0), 6)"),
  leaky_relu: {
    doc: "x if x > 0 else alpha * x",
    params: [{ name: "alpha", kind: "float", default: 0.01 }],
    lower: (a) => ({ op: "leaky_relu", attrs: { alpha: a.float("alpha") } }),
  },
  sigmoid: activation("sigmoid", "1 / (1 + exp(-x))"),
  tanh: activation("tanh", "tanh(x)"),
  gelu: activation("gelu", "x * Phi(x) (exact, erf form)"),
  silu: activation("silu", "x * sigmoid(x) (swish)"),
  hardswish: activation("hardswish", "x * relu6(x + 3) / 6"),
  hardsigmoid: activation("hardsigmoid", "relu6(x + 3) / 6"),
  softmax: activation("softmax", "softmax over channels"),
};

export const layerNames = Object.keys(layers);
