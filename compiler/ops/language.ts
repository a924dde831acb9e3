// How a layer of the `.cnn` language is written (LANGUAGE.md's table): its arguments with their
// kinds and defaults, and how it becomes an IR node. Each op's registry entry lists the layers
// that lower to it (`cnn.layers`); the lowering stage reads them from there. `same` padding is
// resolved here, where the input shape is known, so the IR carries explicit padding only.
import { formatShape, type Shape } from "../ir/graph.js";
import type { OpAttrs, OpKind } from "./index.js";
import { ShapeError, type Pair, type Quad } from "./types.js";

export type Padding =
  | { readonly kind: "valid" }
  | { readonly kind: "same" }
  | { readonly kind: "explicit"; readonly p: Quad };

/**
 * How an argument is written:
 * count: integer >= 1; natural: integer >= 0; pair: count or [h, w]; pair0: natural or [h, w];
 * dims: a shape without N, [f], [h, w] or [c, h, w];
 * padding: valid | same | n | [ph, pw] | [top, left, bottom, right]; float; probability (0 <= p < 1);
 * bool: true | false; a list of words: one of them.
 */
export type ArgKind =
  | "count"
  | "natural"
  | "pair"
  | "pair0"
  | "dims"
  | "padding"
  | "float"
  | "positive"
  | "probability"
  | "bool"
  | readonly string[];

export type ArgValue = number | Pair | readonly number[] | boolean | string | Padding;

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
  dims(name: string): readonly number[] {
    return this.get(name) as readonly number[];
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

export function explicitPadding(pad: Padding, input: Shape, k: Pair, s: Pair, d: Pair): Quad {
  if (pad.kind === "valid") return [0, 0, 0, 0];
  if (pad.kind === "same") return samePadding(input, k, s, d);
  return pad.p;
}

/**
 * Transposed conv: `same` means out = in * stride, so the crop is dilated_kernel - stride
 * (plus output_pad), split with the odd pixel at the bottom/right.
 */
export function deconvPadding(pad: Padding, k: Pair, s: Pair, d: Pair, outpad: Pair): Quad {
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

/** Dense layers take flat input; a feature map is flattened first (C, then H, then W). */
export function flatInput(site: LayerSite, layer: string): void {
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

/** Layers as written apply no activation of their own; fusion may give them one. */
export const noEpilogue = { act: "none", alpha: 0 } as const;

/** `.cnn` literals as `cnnc import` prints them. */
export const list = (xs: readonly number[]): string => `[${xs.join(", ")}]`;
export const num = (x: number): string => String(x);
