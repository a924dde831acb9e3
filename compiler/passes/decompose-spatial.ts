// Spatially separable decomposition (Jaderberg, Vedaldi and Zisserman 2014, scheme 2).
// A k_h x k_w conv with weight w[o, c, i, j] is the matrix M[(c, i), (o, j)] of size
// (C_in k_h) x (C_out k_w). When M = U S V^T has rank R, the conv is exactly
//   a k_h x 1 conv to R channels:   v[r, c, i] = U[(c, i), r] sqrt(s_r)   (vertical taps, stride,
//                                   dilation and top/bottom padding of the original), then
//   a 1 x k_w conv to C_out:        h[o, r, j] = V[(o, j), r] sqrt(s_r)   (horizontal ones, and the
//                                   original's bias, residual and activation).
// Padding composes because every padding mode maps rows and columns independently. It is made when
//   R (C_in k_h H_out W_in + C_out k_w H_out W_out)  <=  0.8 C_out C_in k_h k_w H_out W_out,
// i.e. it saves at least a fifth of the MACs (less would not pay for the extra dispatch).
// By default only exact decompositions are made (discarded singular values within 1e-6 of
// ||M||_F); `decomposeSpatial(tol)` (`--decompose-tol`) accepts approximations and reports per
// layer the rank, the MACs saved and the error measured on a random probe input.
// Needs the weights' values; on a structure-only graph it does nothing.
import type { Graph, IrNode, Node, WeightDecl } from "../ir/graph.js";
import { interpret } from "../interp/index.js";
import { lowRank, provesRankAtLeast } from "../linalg/svd.js";
import { random } from "../weights/index.js";
import { withNodes, type Pass } from "./pass.js";
import { valueShapes } from "../ir/graph.js";

/** A rewrite must bring the MACs down to this share of the original: it adds a dispatch and an
 * intermediate tensor, which a 1% saving would not pay for. */
export const minimumShare = 0.8;

/** Below this relative Frobenius error a decomposition counts as exact for float32 weights. */
export const exactTolerance = 1e-6;

type Conv = IrNode<"conv2d">;

interface Candidate {
  readonly node: Conv;
  readonly cin: number;
  readonly win: number;
  readonly original: number; // MACs per batch item
  readonly perRank: number; // MACs per batch item per unit of rank
}

function candidate(node: Node, inputShape: readonly number[]): Candidate | undefined {
  if (node.op !== "conv2d") return undefined;
  const a = node.attrs;
  if (a.g !== 1 || a.k[0] < 2 || a.k[1] < 2) return undefined;
  const [cin, , win] = inputShape as [number, number, number];
  const [cout, hout, wout] = node.shape as [number, number, number];
  const original = cout * cin * a.k[0] * a.k[1] * hout * wout;
  const perRank = cin * a.k[0] * hout * win + cout * a.k[1] * hout * wout;
  return { node, cin, win, original, perRank };
}

/** The conv's weight as the (C_in k_h) x (C_out k_w) matrix of scheme 2. */
function weightMatrix(
  w: Float32Array,
  cout: number,
  cin: number,
  kh: number,
  kw: number,
): Float64Array {
  const n = cout * kw;
  const M = new Float64Array(cin * kh * n);
  for (let o = 0; o < cout; o++)
    for (let c = 0; c < cin; c++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++)
          M[(c * kh + i) * n + o * kw + j] = w[((o * cin + c) * kh + i) * kw + j]!;
  return M;
}

interface Rewrite {
  readonly nodes: readonly [Conv, Conv];
  readonly weights: readonly WeightDecl[];
  readonly values: ReadonlyMap<string, Float32Array>;
}

function rewrite(c: Candidate, rank: number, left: Float64Array, right: Float64Array): Rewrite {
  const n = c.node;
  const a = n.attrs;
  const [kh, kw] = a.k;
  const [cout, hout] = n.shape as [number, number, number];
  const [top, lft, bottom, rgt] = a.p;
  const vName = `${n.name}.vertical`;
  const vWeight = `${vName}.weight`;
  const hWeight = `${n.name}.horizontal.weight`;
  const v = new Float32Array(rank * c.cin * kh);
  for (let r = 0; r < rank; r++)
    for (let ci = 0; ci < c.cin; ci++)
      for (let i = 0; i < kh; i++) v[(r * c.cin + ci) * kh + i] = left[(ci * kh + i) * rank + r]!;
  const h = new Float32Array(cout * rank * kw);
  for (let o = 0; o < cout; o++)
    for (let r = 0; r < rank; r++)
      for (let j = 0; j < kw; j++) h[(o * rank + r) * kw + j] = right[(o * kw + j) * rank + r]!;
  const vertical: Conv = {
    name: vName,
    op: "conv2d",
    inputs: [n.inputs[0]!],
    weights: [vWeight],
    attrs: {
      ...a,
      filters: rank,
      k: [kh, 1],
      s: [a.s[0], 1],
      p: [top, 0, bottom, 0],
      d: [a.d[0], 1],
      bias: false,
      act: "none",
      alpha: 0,
    },
    shape: [rank, hout, c.win],
    ...(n.loc ? { loc: n.loc } : {}),
  };
  const horizontal: Conv = {
    ...n,
    inputs: [vName, ...n.inputs.slice(1)],
    weights: [hWeight, ...n.weights.slice(1)],
    attrs: { ...a, k: [1, kw], s: [1, a.s[1]], p: [0, lft, 0, rgt], d: [1, a.d[1]] },
  };
  return {
    nodes: [vertical, horizontal],
    weights: [
      { name: vWeight, shape: [rank, c.cin, kh, 1] },
      { name: hWeight, shape: [cout, rank, 1, kw] },
    ],
    values: new Map([
      [vWeight, v],
      [hWeight, h],
    ]),
  };
}

/** Largest |difference| between the original conv and its rewrite on a random input, relative
 * to the largest |output|. */
function probeError(
  graph: Graph,
  c: Candidate,
  r: Rewrite,
  constants: ReadonlyMap<string, Float32Array>,
): number {
  const shapes = valueShapes(graph);
  const inputs = c.node.inputs.map((v) => ({ name: v, shape: shapes.get(v)! }));
  const rand = random(17);
  const data = Object.fromEntries(
    inputs.map((i) => [
      i.name,
      Float32Array.from({ length: i.shape.reduce((x, y) => x * y, 1) }, () => rand() * 2 - 1),
    ]),
  );
  const one = (
    nodes: readonly Node[],
    weights: ReadonlyMap<string, Float32Array>,
  ): Float64Array => {
    const g: Graph = {
      name: "probe",
      inputs,
      weights: [],
      nodes,
      outputs: [{ name: "y", value: c.node.name }],
    };
    return interpret(g, weights, data, 1).get("y")!;
  };
  const all = new Map([...constants, ...r.values]);
  const want = one([c.node], all);
  const got = one(r.nodes, all);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    worst = Math.max(worst, Math.abs(want[i]! - got[i]!));
  }
  return scale === 0 ? worst : worst / scale;
}

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;

/** The pass; `tol` above the exact tolerance accepts approximations (`--decompose-tol`). */
export function decomposeSpatial(tol = exactTolerance): Pass {
  const exact = tol <= exactTolerance;
  return {
    name: "decompose-spatial",
    summary:
      "rewrite a k x k conv of low rank as a k x 1 conv then a 1 x k conv (Jaderberg scheme 2)",
    run(graph, ctx) {
      const shapes = valueShapes(graph);
      const candidates = graph.nodes
        .map((n) => candidate(n, shapes.get(n.inputs[0]!) ?? []))
        .filter((c): c is Candidate => c !== undefined);
      if (candidates.length === 0) return graph;
      const constants = graph.constants;
      if (!constants) {
        ctx.report(`skipped ${count(candidates.length, "conv")}: no weight values to decompose`);
        return graph;
      }
      const rewrites = new Map<string, Rewrite>();
      for (const c of candidates) {
        const a = c.node.attrs;
        const maxRank = Math.floor((minimumShare * c.original) / c.perRank);
        if (maxRank < 1) continue;
        const [cout] = c.node.shape;
        const [kh, kw] = a.k;
        const M = weightMatrix(constants.get(c.node.weights[0]!)!, cout!, c.cin, kh, kw);
        const m = c.cin * kh;
        const n = cout! * kw;
        // Exact mode: a full-rank submatrix proves the layer is not worth factoring, cheaply.
        if (exact && provesRankAtLeast(M, m, n, maxRank + 1)) continue;
        const f = lowRank(M, m, n, { tol: Math.max(tol, exactTolerance), maxRank });
        if (!f) continue;
        const r = rewrite(c, f.rank, f.left, f.right);
        const error = probeError(graph, c, r, constants);
        const after = f.rank * c.perRank;
        const saved = ((1 - after / c.original) * 100).toFixed(1);
        ctx.report(
          `${c.node.name}: rank ${f.rank} of ${Math.min(m, n)}, MACs ${c.original.toLocaleString("en-US")} -> ${after.toLocaleString("en-US")} (-${saved}%), weight error ${f.error.toExponential(1)}, probe error ${error.toExponential(1)}`,
        );
        rewrites.set(c.node.name, r);
      }
      ctx.report(
        `decomposed ${rewrites.size} of ${count(candidates.length, "k x k conv")}${exact ? " (exact only)" : ` (tolerance ${tol})`}`,
      );
      if (rewrites.size === 0) return graph;
      const nodes = graph.nodes.flatMap((n) => rewrites.get(n.name)?.nodes ?? [n]);
      const replaced = new Set(
        [...rewrites.keys()].map((name) => graph.nodes.find((n) => n.name === name)!.weights[0]!),
      );
      const weights = [
        ...graph.weights.filter((w) => !replaced.has(w.name)),
        ...[...rewrites.values()].flatMap((r) => r.weights),
      ];
      const values = new Map(constants);
      for (const name of replaced) values.delete(name);
      for (const r of rewrites.values()) for (const [k, v] of r.values) values.set(k, v);
      return { ...withNodes(graph, nodes), weights, constants: values };
    },
  };
}
