// Dense layers at small batch: y[b, n] = act(sum_k w[n, k] * x[b, k] + bias[n] + res[b, n]).
// At batch 1 the GEMM's 64-row tile holds one real row, so 63/64 of its arithmetic is wasted
// and a dense layer runs ~20x slower than it needs to. This kernel is a matrix-vector
// product shaped for a layer that is bound by reading its weight once: a workgroup of
// `threads` threads owns `rows` output units and `items` batch items (GemvShape); the threads
// split K (each reads every `threads`-th vec4 of the units' weight rows, so neighbouring
// threads read neighbouring memory), accumulate rows x items partial sums in registers, and
// sum them with a tree reduction in workgroup memory. Larger batches take more workgroups
// along y, each reading the weights again; the GEMM serves large batches better, and
// `cnnc tune --batch` measures both.
import type { Kernel } from "./plan-types.js";
import {
  bindingOf,
  activationDecls,
  epilogueStore,
  buildShader,
  subgroupTasks,
  type Activation,
  type BufferRef,
  type ShaderBinding,
} from "./wgsl.js";

/** Threads per workgroup (a power of two), output units and batch items per workgroup. */
export interface GemvShape {
  readonly threads: number;
  readonly rows: number;
  readonly items: number;
}

/** Many threads per row: coalesced reads on a GPU. */
export const defaultGemv: GemvShape = { threads: 64, rows: 4, items: 1 };

/** The shapes `cnnc tune` measures. */
// On llvmpipe, 16 threads x 16 rows ran a 4096x4096 layer 1.4x faster than the default.
export const gemvCandidates: readonly GemvShape[] = [
  defaultGemv,
  { threads: 64, rows: 4, items: 4 },
  { threads: 256, rows: 1, items: 1 },
  { threads: 32, rows: 8, items: 1 },
  { threads: 16, rows: 16, items: 1 },
  { threads: 16, rows: 8, items: 4 },
];

export function gemvName(g: GemvShape): string {
  return `${g.threads}t/${g.rows}r/${g.items}b`;
}

export interface Gemv {
  readonly input: string;
  readonly output: string;
  readonly weight: string;
  readonly bias?: string;
  readonly residual?: string;
  /** Inputs per item (K) and output units of the whole layer (F). */
  readonly inputs: number;
  readonly units: number;
  /** Output units [n0, n1) computed by this dispatch (a weight split into row ranges). */
  readonly channels?: readonly [number, number];
  readonly act?: Activation;
}

export function gemvKernel(g: Gemv, shape: GemvShape = defaultGemv): Kernel {
  const [n0, n1] = g.channels ?? [0, g.units];
  // vec4 loads when rows are a whole number of vec4s (the arena and weight offsets are
  // 256-byte aligned, so every row then starts on a vec4); a residual that is the input too
  // shares x's binding, so x stays scalar then.
  const vec = g.inputs % 4 === 0 && g.residual !== g.input;
  const element = vec ? ("vec4<f32>" as const) : undefined;
  const { rows: R, items: B, threads: T } = shape;
  const bind = (name: string, ref: BufferRef): ShaderBinding => ({
    ...bindingOf(name, ref),
    ...(element && name !== "bias" && name !== "res" ? { element } : {}),
  });
  const product = vec ? "dot" : "mul1";
  const common = {
    bindings: [
      bind("x", { value: g.input }),
      bind("wt", { weight: g.weight }),
      ...(g.bias ? [bind("bias", { weight: g.bias })] : []),
      ...(g.residual ? [bind("res", { value: g.residual })] : []),
      { name: "y", access: "read_write", bind: { value: g.output } },
    ] satisfies ShaderBinding[],
    consts: { KV: vec ? g.inputs / 4 : g.inputs, F: g.units, N0: n0, NC: n1 - n0 },
    workgroupSize: [T, 1, 1] as const,
  };
  const store = (sum: string) =>
    epilogueStore(g, sum, { out: "o", channel: "N0 + n", residual: "o" });
  // With subgroups: no workgroup memory and no barrier. The workgroup's R x B results are
  // tasks of threads spread SP apart (so that a GPU's subgroups share them); each subgroup
  // takes its threads' tasks in turn, its lanes splitting K and summing with subgroupAdd.
  const tasks = R * B;
  const SP = Math.max(1, Math.floor(T / tasks));
  const perRound = Math.ceil(T / SP); // threads whose index is a multiple of SP
  const subgroups = buildShader({
    ...common,
    subgroups: true,
    decls: [
      ...(vec ? [] : ["fn mul1(a: f32, b: f32) -> f32 { return a * b; }"]),
      ...activationDecls(g.act),
    ],
    body: `let nBase = wid.x * ${R}u;
let bBase = wid.y * ${B}u;
for (var j0 = 0u; j0 < ${tasks}u; j0 += ${perRound}u) {
  let mine = select(${tasks}u, j0 + lid.x / ${SP}u, lid.x % ${SP}u == 0u);
  ${subgroupTasks(
    "mine",
    (j) => `${j} < ${tasks}u && nBase + ${j} / ${B}u < NC && bBase + ${j} % ${B}u < params.batch`,
    `let n = nBase + j / ${B}u;
let b = bBase + j % ${B}u;
let wrow = n * KV;
let xrow = b * KV;
var acc = 0.0;
for (var k = rank; k < KV; k += lanes) { acc += ${product}(wt[wrow + k], x[xrow + k]); }
let sum = subgroupAdd(acc);
if (lane == m) {
  let o = b * F + N0 + n;
  ${store("sum")}
}`,
  ).replace(/\n/g, "\n  ")}
}`,
  }).wgsl;
  const { wgsl, bindings } = buildShader({
    ...common,
    decls: [
      `var<workgroup> part: array<array<f32, ${T}>, ${R * B}>;`,
      ...(vec ? [] : ["fn mul1(a: f32, b: f32) -> f32 { return a * b; }"]),
      ...activationDecls(g.act),
    ],
    body: `let t = lid.x;
let nBase = wid.x * ${R}u;
let bBase = wid.y * ${B}u;
// Rows and items past the end read the last valid ones (in bounds) and are not written.
var rows: array<u32, ${R}>;
for (var r = 0u; r < ${R}u; r++) { rows[r] = min(nBase + r, NC - 1u) * KV; }
var items: array<u32, ${B}>;
for (var b = 0u; b < ${B}u; b++) { items[b] = min(bBase + b, params.batch - 1u) * KV; }
var acc: array<array<f32, ${B}>, ${R}>;
for (var k = t; k < KV; k += ${T}u) {
  var xv: array<${element ?? "f32"}, ${B}>;
  for (var b = 0u; b < ${B}u; b++) { xv[b] = x[items[b] + k]; }
  for (var r = 0u; r < ${R}u; r++) {
    let w = wt[rows[r] + k];
    for (var b = 0u; b < ${B}u; b++) { acc[r][b] += ${product}(w, xv[b]); }
  }
}
for (var r = 0u; r < ${R}u; r++) {
  for (var b = 0u; b < ${B}u; b++) { part[r * ${B}u + b][t] = acc[r][b]; }
}
workgroupBarrier();
for (var s = ${T / 2}u; s > 0u; s >>= 1u) {
  if (t < s) {
    for (var j = 0u; j < ${R * B}u; j++) { part[j][t] += part[j][t + s]; }
  }
  workgroupBarrier();
}
// one thread per (unit, item) result; fewer threads than results take several each
for (var j = t; j < ${R * B}u; j += ${T}u) {
  let n = nBase + j / ${B}u;
  let b = bBase + j % ${B}u;
  if (n < NC && b < params.batch) {
    let o = b * F + N0 + n;
    ${store("part[j][0]")}
  }
}`,
  });
  return {
    wgsl,
    subgroups,
    bindings,
    shapeFamily: true,
    grid: {
      kind: "tiles",
      x: { perBatch: 0, fixed: n1 - n0, div: R },
      y: { perBatch: 1, fixed: 0, div: B },
      z: { perBatch: 0, fixed: 1, div: 1 },
    },
  };
}
