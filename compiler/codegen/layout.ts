// Layout assignment: which activations codegen stores NHWC rather than NCHW (wgsl.ts `Layout`).
//
// Every kernel that can reads its input and writes its output each in its own layout, so a
// change of layout between two layers costs nothing: the conv that reads NCHW may write NHWC.
// What ties layouts together is sharing a walk or a buffer: an elementwise op (activation,
// batch norm, add or mul of same-shape operands) walks its input and output as flat arrays, so
// they form one group with one layout, and a conv writing into a concat's channel slice writes
// in the concat's layout. A group must stay NCHW when any value in it is a network input or
// output (the API's order), feeds a flatten (whose order is NCHW's), or is read or written by a
// kernel that only knows NCHW (transposed convs, separable convs before their decomposition,
// upsample, pad, LRN, softmax, broadcasting add/mul, dense layers).
//
// Among the groups that may be either, the layers that read them choose: each tunable conv's
// kernel choice carries the layout it reads its input in (`KernelChoice.layout`, measured by
// `cnnc tune`), and a group is NHWC when more of its readers ask for NHWC than for NCHW.
import type { Graph, Node } from "../ir/graph.js";
import { opsWith } from "../ops/index.js";
import type { Layout } from "./wgsl.js";

/** Ops whose kernels read and write both layouts (the `anyLayout` trait). */
const anyLayout = opsWith((t) => t.anyLayout);
/** Ops that broadcast their operands: NCHW wherever an operand's shape is not the output's. */
const broadcasting = opsWith((t) => t.broadcast);

/**
 * Ops whose output is in their (first) input's layout, one flat walk over both: the in-place
 * elementwise ops and the aliases (flatten, dropout).
 */
const elementwise = opsWith((t) => t.inPlace || t.alias);

export interface LayoutGroups {
  /** The group of each value: a representative value's name. */
  readonly groupOf: ReadonlyMap<string, string>;
  /** The groups that may be NHWC. */
  readonly free: ReadonlySet<string>;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** A [C, H, W] value with more than one pixel: the only kind whose layouts differ. */
const spatial = (shape: readonly number[]): boolean =>
  shape.length === 3 && shape[1]! * shape[2]! > 1;

/**
 * The groups of values that share a layout, and which of them may be NHWC. `slices`: the values
 * a conv writes straight into a concat's channel slice (codegen's concat elimination), each
 * with its concat.
 */
export function layoutGroups(
  graph: Graph,
  slices: ReadonlyMap<string, { readonly concat: string }> = new Map(),
): LayoutGroups {
  const parent = new Map<string, string>();
  const find = (v: string): string => {
    let r = v;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(v, r);
    return r;
  };
  const union = (a: string, b: string): void => {
    parent.set(find(a), find(b));
  };
  const shapes = new Map<string, readonly number[]>();
  for (const i of graph.inputs) shapes.set(i.name, i.shape);
  for (const n of graph.nodes) shapes.set(n.name, n.shape);
  for (const v of shapes.keys()) parent.set(v, v);

  const pinned = new Set<string>(); // values that must be NCHW
  for (const i of graph.inputs) pinned.add(i.name);
  for (const o of graph.outputs) pinned.add(o.value);
  const broadcasts = (n: Node): boolean =>
    broadcasting.has(n.op) && n.inputs.some((v) => !sameShape(shapes.get(v)!, n.shape));
  for (const n of graph.nodes) {
    if (!anyLayout.has(n.op) || broadcasts(n)) {
      pinned.add(n.name);
      for (const v of n.inputs) pinned.add(v);
    } else if (elementwise.has(n.op)) {
      for (const v of n.inputs) union(n.name, v);
    }
    if (n.op === "flatten") pinned.add(n.name);
  }
  for (const [v, { concat }] of slices) union(v, concat);

  const free = new Set([...shapes.keys()].map(find));
  for (const [v, shape] of shapes) {
    if (pinned.has(v) || !spatial(shape)) free.delete(find(v));
  }
  return { groupOf: new Map([...shapes.keys()].map((v) => [v, find(v)])), free };
}

/**
 * Each value's layout: NHWC for the free groups more of whose conv readers ask for it (`asks`:
 * the layout a conv's kernel choice reads, if it has one), or for every free group when
 * `prefer` is "nhwc"; NCHW for the rest, and for every group when `prefer` is "nchw".
 */
export function assignLayouts(
  graph: Graph,
  groups: LayoutGroups,
  asks: (node: Node) => Layout | undefined,
  prefer?: Layout,
): Map<string, Layout> {
  const votes = new Map<string, number>();
  for (const n of graph.nodes) {
    const want = n.op === "conv2d" ? asks(n) : undefined;
    if (want === undefined) continue;
    const g = groups.groupOf.get(n.inputs[0]!)!;
    votes.set(g, (votes.get(g) ?? 0) + (want === "nhwc" ? 1 : -1));
  }
  const nhwc = (g: string): boolean =>
    groups.free.has(g) && (prefer === undefined ? (votes.get(g) ?? 0) > 0 : prefer === "nhwc");
  return new Map(
    [...groups.groupOf].map(([v, g]) => [v, nhwc(g) ? ("nhwc" as const) : ("nchw" as const)]),
  );
}
