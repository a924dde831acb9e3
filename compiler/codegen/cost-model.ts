// The cost model behind the kernels `cnnc build --target cpu` picks and the order in which
// `cnnc tune` tries candidates. It is fitted to measurements kept as data in the repository:
// `cnnc tune --record` writes every candidate's time for every distinct layer of a network on
// the adapter at hand (tuning/<adapter>.json holds the runs on llvmpipe of the examples the
// README benches). For a layer it predicts how much faster each candidate is than each other
// from the `neighbours` nearest measured layers that measured both, and ranks the candidates
// by their mean predicted ratio; nearness is the distance between the two layers' log channel
// counts, log map sizes and batch, plus a penalty for a different window (size, stride,
// dilation). A
// nearest-neighbour model rather than a formula: what wins on a CPU emulation (register blocks
// against the GEMM's barriers, Winograd's transforms against its 2.25x fewer multiplies) turns
// on cache sizes and the emulator's scheduling more than on counts a formula could weigh, and
// the measured layers of the examples cover the shapes CNNs are made of. The GPU class has no
// measurements in the repository (no GPU is reachable where it is built): its defaults stay
// the rules in choice.ts.
import type { Node, Shape } from "../ir/graph.js";
import llvmpipe from "./tuning/llvmpipe.json" with { type: "json" };

/** What the model knows of a layer with a choice of kernel. */
export interface LayerFeatures {
  readonly kind: "conv" | "depthwise" | "dense";
  /** Input channels (a dense layer's inputs), input map rows and columns. */
  readonly c: number;
  readonly h: number;
  readonly w: number;
  /** Output channels (units), output map rows and columns. */
  readonly f: number;
  readonly ho: number;
  readonly wo: number;
  /** The window: size, stride, dilation ([1, 1] each for a dense layer). */
  readonly k: readonly number[];
  readonly s: readonly number[];
  readonly d: readonly number[];
  readonly batch: number;
}

/** One measured layer: its features and each candidate's GPU time in ms. */
export interface LayerRecord extends LayerFeatures {
  readonly network: string;
  readonly ms: Readonly<Record<string, number>>;
}

export interface TuningData {
  /** The adapter measured, as `cnnc tune` names it. */
  readonly adapter: string;
  readonly layers: readonly LayerRecord[];
}

/** The measurements each class of adapter has in the repository. */
const data: Readonly<Record<string, TuningData | undefined>> = {
  cpu: llvmpipe as unknown as TuningData,
};

export function layerFeatures(
  node: Node,
  input: Shape | undefined,
  batch: number,
): LayerFeatures | undefined {
  const [c = 1, h = 1, w = 1] = input ?? [];
  if (node.op === "dense") {
    const inputs = (input ?? []).reduce((a, b) => a * b, 1);
    const one = [1, 1];
    return {
      kind: "dense",
      ...{ c: inputs, h: 1, w: 1, f: node.attrs.units, ho: 1, wo: 1 },
      ...{ k: one, s: one, d: one, batch },
    };
  }
  if (node.op !== "conv2d") return undefined;
  const { k, s, d, g, filters } = node.attrs;
  const [, ho = 1, wo = 1] = node.shape;
  return {
    kind: g > 1 && g === c ? "depthwise" : "conv",
    ...{ c, h, w, f: filters, ho, wo },
    ...{ k: [...k], s: [...s], d: [...d], batch },
  };
}

const sameWindow = (a: LayerFeatures, b: LayerFeatures): boolean =>
  [0, 1].every((i) => a.k[i] === b.k[i] && a.s[i] === b.s[i] && a.d[i] === b.d[i]);

/** How far apart two layers are for the model; Infinity when of different kinds. */
export function distance(a: LayerFeatures, b: LayerFeatures): number {
  if (a.kind !== b.kind) return Infinity;
  const ln = (x: number, y: number): number => Math.abs(Math.log(x / y));
  return (
    ln(a.c, b.c) +
    ln(a.f, b.f) +
    ln(a.ho * a.wo, b.ho * b.wo) +
    ln(a.batch, b.batch) +
    (sameWindow(a, b) ? 0 : windowPenalty)
  );
}
/** A different window counts as much as an 8-fold difference in one dimension. */
const windowPenalty = Math.log(8);
const neighbours = 3;

/**
 * Each of `names`' score: its predicted log time ratio to each other name, averaged over the
 * others (lower is faster); names no measured layer compared with another are absent. The
 * ratio of a to b is the weighted mean of log(ms_a / ms_b) over the `neighbours` nearest layers
 * that measured both: a layer whose fastest kernel does not apply here (the pointwise kernel of
 * a 1x1 conv, for a 3x3 one) still says how the kernels that do apply compare.
 */
export function predict(
  features: LayerFeatures,
  layers: readonly LayerRecord[],
  names: readonly string[] = [...new Set(layers.flatMap((r) => Object.keys(r.ms)))],
): Map<string, number> {
  const near = layers
    .map((r) => ({ r, weight: 1 / (1 + distance(features, r)) }))
    .filter((x) => x.weight > 0)
    .sort((a, b) => b.weight - a.weight);
  const sums = new Map<string, { total: number; count: number }>();
  for (const [i, a] of names.entries()) {
    for (const b of names.slice(i + 1)) {
      const both = near.filter(({ r }) => a in r.ms && b in r.ms).slice(0, neighbours);
      if (!both.length) continue;
      let weighted = 0;
      let weight = 0;
      for (const { r, weight: w } of both) {
        weighted += w * Math.log(r.ms[a]! / r.ms[b]!);
        weight += w;
      }
      const ab = weighted / weight;
      for (const [name, ratio] of [
        [a, ab],
        [b, -ab],
      ] as const) {
        const s = sums.get(name) ?? { total: 0, count: 0 };
        sums.set(name, { total: s.total + ratio, count: s.count + 1 });
      }
    }
  }
  return new Map([...sums].map(([name, s]) => [name, s.total / s.count]));
}

/**
 * `names` ordered by predicted time, fastest first, on the class of adapter `target` (those no
 * measured layer nearby says anything of last, in their given order); undefined where the
 * repository has no measurements of the class or none of the layer's kind.
 */
export function rankByModel(
  target: string,
  features: LayerFeatures | undefined,
  names: readonly string[],
): string[] | undefined {
  const layers = data[target]?.layers;
  if (!layers || !features) return undefined;
  const predicted = predict(features, layers, names);
  if (!names.some((n) => predicted.has(n))) return undefined;
  const score = (n: string): number => predicted.get(n) ?? Infinity;
  return names
    .map((n, i) => ({ n, i }))
    .sort((a, b) => score(a.n) - score(b.n) || a.i - b.i)
    .map((x) => x.n);
}
