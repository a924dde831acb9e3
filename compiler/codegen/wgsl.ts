// A small WGSL builder: every kernel declares its bindings here, in the order the dispatch
// binds them, so that the shader text and the dispatch data cannot drift apart. Binding 0 is
// always the uniform with the run-time batch size; shapes are baked in as constants.
import { activations, type Activation } from "../ops/activations.js";
export type { Activation } from "../ops/activations.js";

export type Access = "read" | "read_write";

/**
 * How a kernel declares a binding it only reads. Activations all live in one arena buffer,
 * and WebGPU forbids one dispatch to use a buffer both read-only and writable, even over
 * disjoint ranges; writable uses of one buffer are compatible. So activations are declared
 * read_write even when only read; weights, in buffers of their own, stay read-only.
 */
export function readAccess(binding: BufferRef): Access {
  return "value" in binding ? "read_write" : "read";
}

export type BufferRef = { readonly value: string } | { readonly weight: string };

/**
 * The bindings of a kernel that reads one value and writes another through a conv's epilogue:
 * the input as `name`, then `bias`, `res` (a residual) and `y`, as the epilogue code names them.
 */
export function epilogueBindings(
  name: string,
  e: {
    readonly input: string;
    readonly output: string;
    readonly bias?: string;
    readonly residual?: string;
  },
): ShaderBinding[] {
  const read = (n: string, value: string): ShaderBinding => ({
    name: n,
    access: readAccess({ value }),
    bind: { value },
  });
  return [
    read(name, e.input),
    ...(e.bias ? [{ name: "bias", access: "read" as const, bind: { weight: e.bias } }] : []),
    ...(e.residual ? [read("res", e.residual)] : []),
    { name: "y", access: "read_write", bind: { value: e.output } },
  ];
}

export interface ShaderBinding {
  readonly name: string;
  readonly access: Access;
  /** What the dispatch binds here. */
  readonly bind: BufferRef;
  /** Element type of the array; vec4 for kernels that load four floats at once. */
  readonly element?: "f32" | "vec4<f32>";
}

export interface ShaderSpec {
  readonly bindings: readonly ShaderBinding[];
  /** Named u32 constants, emitted as `const NAME: u32 = value;`. */
  readonly consts?: Readonly<Record<string, number>>;
  /** Extra module-scope declarations (helper functions, workgroup arrays). */
  readonly decls?: readonly string[];
  readonly workgroupSize: readonly [number, number, number];
  /**
   * The body of `main`; `gid`, `lid`, `wid` and `nwg` are in scope, and with `subgroups`
   * `sgs` (the subgroup's size) and `lane` (this thread's index in its subgroup).
   */
  readonly body: string;
  /** Uses subgroup operations: a shader for devices with WebGPU's `subgroups` feature. */
  readonly subgroups?: boolean;
}

/**
 * The lines a shader using subgroup operations starts with. The uniformity diagnostic is off
 * because the kernels call them where control flow is uniform in each subgroup by
 * construction (a branch on a value every lane took from one lane: `subgroupTasks`), which
 * WGSL's analysis cannot see.
 */
export const subgroupDirectives = ["enable subgroups;", "diagnostic(off, subgroup_uniformity);"];

/**
 * WGSL in which each subgroup's threads take each thread's task in turn, all lanes together:
 * `task` is this thread's task (an expression in scope), `body` the statements for task `j`
 * (valid where `valid(j)` holds), whose owner is lane `m`. The body shares the work among the
 * subgroup's `lanes` running threads by `rank` (0 to lanes - 1) and reduces with subgroupAdd /
 * subgroupMax. Correct whatever the mapping of threads to subgroups (WebGPU promises none) and
 * however full a subgroup is: a thread is only ever served by its own subgroup, lanes that are
 * not running (a partial subgroup, threads that returned) are skipped by the ballot, and the
 * work is shared among those that are. Threads with no task of their own stay to help.
 */
export function subgroupTasks(task: string, valid: (j: string) => string, body: string): string {
  return `let running = subgroupBallot(true);
let lanes = subgroupAdd(1u);
let rank = subgroupExclusiveAdd(1u);
for (var m = 0u; m < sgs; m++) {
  if (((running[m / 32u] >> (m % 32u)) & 1u) == 0u) { continue; }
  let j = subgroupShuffle(${task}, m);
  if (${valid("j")}) {
${body.replace(/^/gm, "    ")}
  }
}`;
}

const key = (b: BufferRef): string => ("value" in b ? `v:${b.value}` : `w:${b.weight}`);

/**
 * The shader text and the buffers a dispatch binds, in binding order. A buffer named twice
 * (add(a, a), a residual that is also the input) is bound once: two bindings of one range
 * would alias, which WebGPU rejects for writable storage. Later names are rewritten to the first.
 */
export function buildShader(spec: ShaderSpec): { wgsl: string; bindings: BufferRef[] } {
  const first = new Map<string, string>();
  const renames = new Map<string, string>();
  const unique: ShaderBinding[] = [];
  for (const b of spec.bindings) {
    const k = key(b.bind);
    const seen = first.get(k);
    if (seen === undefined) {
      first.set(k, b.name);
      unique.push(b);
    } else renames.set(b.name, seen);
  }
  const rename = (code: string): string =>
    // (a member access such as `wid.y` is not the binding `y`)
    [...renames].reduce(
      (c, [from, to]) => c.replace(new RegExp(`(?<![.\\w])${from}\\b`, "g"), to),
      code,
    );
  const wgsl = shaderText({
    ...spec,
    bindings: unique,
    body: rename(spec.body),
    decls: (spec.decls ?? []).map(rename),
  });
  return { wgsl, bindings: unique.map((b) => b.bind) };
}

function shaderText(spec: ShaderSpec): string {
  const lines = [
    ...(spec.subgroups ? subgroupDirectives : []),
    "struct Params { batch: u32 }",
    "@group(0) @binding(0) var<uniform> params: Params;",
  ];
  spec.bindings.forEach((b, i) => {
    lines.push(
      `@group(0) @binding(${i + 1}) var<storage, ${b.access}> ${b.name}: array<${b.element ?? "f32"}>;`,
    );
  });
  for (const [name, value] of Object.entries(spec.consts ?? {})) {
    if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff) {
      throw new Error(`internal: constant ${name} = ${value} does not fit a u32`);
    }
    lines.push(`const ${name}: u32 = ${value}u;`);
  }
  lines.push(...(spec.decls ?? []));
  const [x, y, z] = spec.workgroupSize;
  lines.push(
    `@compute @workgroup_size(${x}, ${y}, ${z})`,
    "fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,",
    `        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u${spec.subgroups ? "," : ") {"}`,
    ...(spec.subgroups
      ? ["        @builtin(subgroup_size) sgs: u32, @builtin(subgroup_invocation_id) lane: u32) {"]
      : []),
    spec.body.replace(/^/gm, "  ").trimEnd(),
    "}",
  );
  return lines.join("\n") + "\n";
}

/** A float literal WGSL accepts: `2` -> `2.0`, `1e-7` stays. */
export function f32(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`internal: ${x} is not a finite float`);
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** Threads per workgroup of the one-thread-per-output kernels. */
export const flatGroup = 256;

/** The flat thread index of a 2-D dispatch (x is capped at 65535 groups, y carries the rest). */
export const flatIndex = `let i = gid.x + gid.y * nwg.x * ${flatGroup}u;`;

/** The WGSL expression of an activation applied to `v` (activations.ts has them all). */
export function activationWgsl(act: Activation | undefined, v: string): string {
  return act ? activations[act.op].wgsl(v, f32(act.alpha)) : v;
}

/**
 * The epilogue of every conv and dense kernel, written once: the store
 * `y[out] = act(acc + bias[channel] + res[residual])`. The caller gives the index expressions
 * in its own loop variables (`out` already in the output's layout and concat slice, `residual`
 * in the residual's layout); a kernel that starts its accumulator at the bias says `inAcc`.
 */
export function epilogueStore(
  e: {
    readonly bias?: string | undefined;
    readonly residual?: string | undefined;
    readonly act?: Activation | undefined;
  },
  acc: string,
  at: { readonly out: string; readonly channel: string; readonly residual: string },
  bias: "add" | "inAcc" = "add",
): string {
  const terms = [
    acc,
    ...(bias === "add" && e.bias ? [`bias[${at.channel}]`] : []),
    ...(e.residual ? [`res[${at.residual}]`] : []),
  ];
  const v = terms.length > 1 ? `(${terms.join(" + ")})` : acc;
  return `y[${at.out}] = ${activationWgsl(e.act, v)};`;
}

/** The module-scope declarations an activation's expression needs (GELU's erf). */
export function activationDecls(act: Activation | undefined): string[] {
  return act ? [...(activations[act.op].decls ?? [])] : [];
}

/** The shape of a convolution-like window, as the kernels name its constants. */
export interface ConvWindow {
  readonly inShape: readonly [number, number, number];
  readonly outShape: readonly [number, number, number];
  readonly k: readonly [number, number];
  readonly s: readonly [number, number];
  readonly d: readonly [number, number];
  /** Top and left padding (bottom and right follow from the output size). */
  readonly pad: readonly [number, number];
}

/** C H W in, F HO WO out, kernel KH KW, stride SH SW, dilation DH DW, padding PT PL. */
export function convConsts(g: ConvWindow): Record<string, number> {
  const [c, h, w] = g.inShape;
  const [f, ho, wo] = g.outShape;
  return {
    C: c,
    H: h,
    W: w,
    F: f,
    HO: ho,
    WO: wo,
    KH: g.k[0],
    KW: g.k[1],
    SH: g.s[0],
    SW: g.s[1],
    DH: g.d[0],
    DW: g.d[1],
    PT: g.pad[0],
    PL: g.pad[1],
  };
}

/** Where a kernel writes when its output is a channel slice of a larger tensor (a concat). */
export interface OutputSlice {
  /** Channels of the tensor written into. */
  readonly channels: number;
  /** The first channel this kernel writes. */
  readonly offset: number;
}

/**
 * How a [C, H, W] activation lies in memory: channels outermost (NCHW, PyTorch's and ONNX's
 * order, and the network's inputs and outputs) or innermost (NHWC: the channels of a pixel
 * side by side, so a GEMM conv loads four input channels as one vec4 and neighbouring threads
 * read neighbouring addresses). The batch is outermost in both.
 */
export type Layout = "nchw" | "nhwc";

/**
 * A size in generated code: a number (written as a u32 literal) or the name of a u32 constant
 * the kernel declares (kept by name, so that the WGSL reads `(n * C + c) * H`).
 */
export type Dim = number | string;

const lit = (d: Dim): string => (typeof d === "number" ? `${d}u` : d);
const product = (a: Dim, b: Dim): Dim =>
  typeof a === "number" && typeof b === "number"
    ? a * b
    : a === 1
      ? b
      : b === 1
        ? a
        : `(${lit(a)} * ${lit(b)})`;

/** A [C, H, W] tensor as a kernel addresses it. */
export interface TensorView {
  readonly layout: Layout;
  /** Channels of the buffer: more than the tensor's own when it is a slice of a concat. */
  readonly channels: Dim;
  readonly h: Dim;
  readonly w: Dim;
  /** The first channel of the slice (absent when the tensor is the whole buffer). */
  readonly offset?: Dim;
}

/**
 * The constants a kernel writing into a channel slice declares for `view`: the channels of the
 * buffer (SC) and the slice's first (SO). Named, not written into the text, so that the kernels
 * of two branches of a concat that differ only there are one shader (families.ts).
 */
export function sliceConsts(slice: OutputSlice | undefined): Record<string, number> {
  return slice ? { SC: slice.channels, SO: slice.offset } : {};
}

/**
 * A view of a whole [C, H, W] tensor, or of a channel slice of a larger one (its sizes named
 * as `sliceConsts` declares them).
 */
export function view(
  layout: Layout | undefined,
  [c, h, w]: readonly [Dim, Dim, Dim],
  slice?: OutputSlice,
): TensorView {
  return {
    layout: layout ?? "nchw",
    channels: slice ? "SC" : c,
    h,
    w,
    ...(slice ? { offset: "SO" } : {}),
  };
}

/** The WGSL expression of element (n, c, y, x)'s index; the arguments are u32 expressions. */
export function at(t: TensorView, n: string, c: string, y: string, x: string): string {
  const ch = t.offset !== undefined ? `(${lit(t.offset)} + ${c})` : c;
  const [C, H, W] = [lit(t.channels), lit(t.h), lit(t.w)];
  return t.layout === "nchw"
    ? `((${n} * ${C} + ${ch}) * ${H} + ${y}) * ${W} + ${x}`
    : `((${n} * ${H} + ${y}) * ${W} + ${x}) * ${C} + ${ch}`;
}

/** `at` with the pixel as one index `p` = y * W + x. */
export function atPixel(t: TensorView, n: string, c: string, p: string): string {
  const ch = t.offset !== undefined ? `(${lit(t.offset)} + ${c})` : c;
  const hw = lit(product(t.h, t.w));
  return t.layout === "nchw"
    ? `(${n} * ${lit(t.channels)} + ${ch}) * ${hw} + ${p}`
    : `(${n} * ${hw} + ${p}) * ${lit(t.channels)} + ${ch}`;
}

/**
 * WGSL statements splitting the flat index `i` of a [C, H, W] tensor (of `layout`'s order) into
 * `names` = [n, c, y, x]: a one-thread-per-output kernel walks its output in memory order, so
 * neighbouring threads write neighbouring addresses in either layout.
 */
export function split(
  layout: Layout | undefined,
  [c, h, w]: readonly [Dim, Dim, Dim],
  names: readonly [string, string, string, string],
  i = "i",
): string {
  const [n, ch, y, x] = names;
  const [C, H, W] = [lit(c), lit(h), lit(w)];
  return layout === "nhwc"
    ? `let ${ch} = ${i} % ${C};\nlet ${x} = (${i} / ${C}) % ${W};\nlet ${y} = (${i} / ${lit(product(c, w))}) % ${H};\nlet ${n} = ${i} / ${lit(product(product(c, w), h))};`
    : `let ${x} = ${i} % ${W};\nlet ${y} = (${i} / ${W}) % ${H};\nlet ${ch} = (${i} / ${lit(product(w, h))}) % ${C};\nlet ${n} = ${i} / ${lit(product(product(w, h), c))};`;
}

/** The layouts of a kernel's input, output and residual; NCHW where absent. */
export interface Layouts {
  readonly inLayout?: Layout | undefined;
  readonly outLayout?: Layout | undefined;
  readonly resLayout?: Layout | undefined;
}

/** A binding named `name` of a value or weight, with the access `readAccess` gives it. */
export function bindingOf(name: string, ref: BufferRef): ShaderBinding {
  return { name, access: readAccess(ref), bind: ref };
}
