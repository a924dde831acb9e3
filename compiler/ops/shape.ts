// Data movement: flatten (a view), dropout (the identity at inference, removed by
// legalisation), explicit padding, concatenation along channels, upsampling.
import { concatGrad, dropoutKernel } from "../train/kernels.js";
import { gatherGrad, identityGrad, onlyInputs, spatialGrad } from "./grad.js";
import { elementCount, formatShape } from "../ir/graph.js";
import {
  channelSliceKernel,
  concatCopyKernel,
  pixelShuffleKernel,
  resizeKernel,
  type ResizeAxis,
  transposeKernel,
  padKernel,
  upsampleKernel,
} from "../codegen/direct.js";
import { sourceIndex } from "./conv.js";
import { free, merged, perOutput, pointwise, wholeMap } from "./field.js";
import { explicitPadding, list, num, type Args, type LayerDef } from "./language.js";
import { int, ints, str, writePad, type OnnxAttr, type OnnxReader } from "./onnx.js";
import { checked, checkReflect, dims3, spatial } from "./shape-rules.js";
import {
  padModes,
  ShapeError,
  type Family,
  type NoAttrs,
  type OpDef,
  type Pair,
  type PadMode,
  type Quad,
} from "./types.js";

export type UpsampleMode = "nearest" | "bilinear";
export const upsampleModes: readonly UpsampleMode[] = ["nearest", "bilinear"];

export interface ShapeFamily {
  flatten: NoAttrs;
  dropout: { readonly p: number };
  pad: { readonly p: Quad; readonly mode: PadMode; readonly value: number };
  /** Along channels. */
  concat: NoAttrs;
  upsample: { readonly scale: Pair; readonly mode: UpsampleMode };
  /** Channels [start, end) (ONNX's Split and Slice along channels). */
  slice: { readonly start: number; readonly end: number };
  /** The same values in NCHW order under another shape ([C, H, W] or [F]); N stays. */
  reshape: { readonly shape: readonly number[] };
  /** The item's three dimensions permuted: output dimension k is input dimension `perm[k]`
   * (a, b, c naming the input's). */
  transpose: { readonly perm: Perm };
  /** b x b channel groups to b x b pixel blocks (PyTorch's PixelShuffle is crd). */
  depth_to_space: { readonly block: number; readonly mode: "dcr" | "crd" };
  /** b x b pixel blocks to channels (the inverse of depth_to_space dcr). */
  space_to_depth: { readonly block: number };
  /** ONNX's Resize to `size`, by its coordinate transformation and (nearest) rounding modes;
   * sy, sx: the scales the coordinate formulas divide by. */
  resize: {
    readonly size: Pair;
    readonly mode: "nearest" | "linear";
    readonly coord: Coord;
    readonly rounding: Rounding;
    readonly sy: number;
    readonly sx: number;
  };
}

export const coords = [
  "half_pixel",
  "pytorch_half_pixel",
  "align_corners",
  "asymmetric",
  "tf_half_pixel_for_nn",
] as const;
export type Coord = (typeof coords)[number];
export const roundings = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"] as const;
export type Rounding = (typeof roundings)[number];

/**
 * Where each output coordinate of one axis reads, as ONNX's Resize defines it: the source
 * coordinate by the coordinate transformation, then for nearest the rounding (clamped into the
 * input), for linear the two neighbours (the coordinate clamped into [0, in - 1]) and the
 * second's weight. Float64; the reference and the kernel read the same table.
 */
export function resizeAxis(
  outLen: number,
  inLen: number,
  scale: number,
  coord: Coord,
  linear: boolean,
  rounding: Rounding,
): ResizeAxis {
  const i0: number[] = [];
  const i1: number[] = [];
  const w: number[] = [];
  // ONNX's length_resized is in * scale, unrounded (the output has floor of it).
  const resized = inLen * scale;
  for (let x = 0; x < outLen; x++) {
    const src =
      coord === "half_pixel"
        ? (x + 0.5) / scale - 0.5
        : coord === "pytorch_half_pixel"
          ? resized > 1
            ? (x + 0.5) / scale - 0.5
            : 0
          : coord === "align_corners"
            ? resized === 1
              ? 0
              : (x * (inLen - 1)) / (resized - 1)
            : coord === "asymmetric"
              ? x / scale
              : (x + 0.5) / scale;
    const clampIndex = (v: number) => Math.min(Math.max(v, 0), inLen - 1);
    if (linear) {
      const s = Math.min(Math.max(src, 0), inLen - 1);
      const a = Math.floor(s);
      i0.push(a);
      i1.push(Math.min(a + 1, inLen - 1));
      w.push(s - a);
    } else {
      const f = Math.floor(src);
      const tie = src - f === 0.5;
      const r =
        rounding === "floor"
          ? f
          : rounding === "ceil"
            ? Math.ceil(src)
            : tie
              ? rounding === "round_prefer_floor"
                ? f
                : f + 1
              : Math.round(src);
      i0.push(clampIndex(r));
    }
  }
  return { i0, i1: linear ? i1 : i0, w: linear ? w : i0.map(() => 0) };
}

/** The input element (channel, row, column) an output element of a pixel shuffle reads. */
function shuffleSource(
  kind: "dcr" | "crd" | "space_to_depth",
  b: number,
  inShape: readonly [number, number, number],
  oc: number,
  oh: number,
  ow: number,
): [number, number, number] {
  const [c] = inShape;
  if (kind === "space_to_depth") {
    const ch = oc % c;
    const ij = Math.floor(oc / c);
    return [ch, oh * b + Math.floor(ij / b), ow * b + (ij % b)];
  }
  const ij = (oh % b) * b + (ow % b);
  const co = c / (b * b);
  return [kind === "dcr" ? ij * co + oc : oc * b * b + ij, Math.floor(oh / b), Math.floor(ow / b)];
}

function shuffleOp<K extends "depth_to_space" | "space_to_depth">(kind: K): OpDef<ShapeFamily[K]> {
  const mode = (a: ShapeFamily[K]): "dcr" | "crd" | "space_to_depth" =>
    kind === "space_to_depth" ? "space_to_depth" : (a as ShapeFamily["depth_to_space"]).mode;
  const onnx = kind === "space_to_depth" ? "SpaceToDepth" : "DepthToSpace";
  const def: OpDef<ShapeFamily[K]> = {
    grad: gatherGrad(() => def),
    attrs: (kind === "space_to_depth"
      ? { block: "int" }
      : { block: "int", mode: ["dcr", "crd"] }) as OpDef<ShapeFamily[K]>["attrs"],
    arity: 1,
    weights: () => [],
    infer(a, [x]) {
      const [c, h, w] = spatial(x);
      const b = a.block;
      if (!(Number.isSafeInteger(b) && b >= 1))
        throw new ShapeError(`block must be a positive integer, got ${b}`);
      if (kind === "space_to_depth") {
        if (h % b || w % b) throw new ShapeError(`${h}x${w} is not a multiple of the block ${b}`);
        return checked([c * b * b, h / b, w / b]);
      }
      if (c % (b * b)) throw new ShapeError(`${c} channels are not a multiple of ${b * b}`);
      return checked([c / (b * b), h * b, w * b]);
    },
    reference(node, [x], ctx) {
      const inShape = dims3(ctx.inputShapes[0]);
      const [c, h, w] = inShape;
      const [oc, oh, ow] = dims3(node.shape);
      const per = c * h * w;
      const y = new Float64Array(x!.length);
      for (let n = 0; n < ctx.batch; n++)
        for (let k = 0; k < oc; k++)
          for (let i = 0; i < oh; i++)
            for (let j = 0; j < ow; j++) {
              const [sc, sh, sw] = shuffleSource(
                mode(node.attrs),
                node.attrs.block,
                inShape,
                k,
                i,
                j,
              );
              y[n * per + (k * oh + i) * ow + j] = x![n * per + (sc * h + sh) * w + sw]!;
            }
      return y;
    },
    cost: free,
    receptiveField: (_, [x], [shape]) => wholeMap(x!, shape),
    traits: { family: "shape" },
    emit: (node, e) =>
      e.emit(
        pixelShuffleKernel({
          input: node.inputs[0]!,
          output: e.output,
          inShape: dims3(e.inShapes[0]),
          block: node.attrs.block,
          kind: mode(node.attrs),
        }),
      ),
    toOnnx: (node, w) =>
      void w.node(onnx, [node.inputs[0]!], node.name, {
        blocksize: int(node.attrs.block),
        ...(kind === "space_to_depth" ? {} : { mode: str(mode(node.attrs).toUpperCase()) }),
      }),
    fromOnnx: {
      [onnx](r: OnnxReader) {
        const block = r.attrInt("blocksize", 0);
        if (kind === "space_to_depth")
          return void r.emit("space_to_depth", [r.value(0)], { block });
        const m = r.attrStr("mode", "DCR");
        if (m !== "DCR" && m !== "CRD") r.fail(`mode '${m}' is not an ONNX mode`);
        r.emit("depth_to_space", [r.value(0)], { block, mode: m === "DCR" ? "dcr" : "crd" });
      },
    },
    cnn: {
      layers: {
        [kind]: {
          doc:
            kind === "space_to_depth"
              ? "b x b pixel blocks to channels"
              : "b x b channel groups to pixel blocks (crd: PyTorch's PixelShuffle)",
          params:
            kind === "space_to_depth"
              ? [{ name: "block", kind: "count" }]
              : [
                  { name: "block", kind: "count" },
                  { name: "mode", kind: ["dcr", "crd"], default: "crd" },
                ],
          lower: (a: Args) =>
            ({
              op: kind,
              attrs:
                kind === "space_to_depth"
                  ? { block: a.int("block") }
                  : { block: a.int("block"), mode: a.word("mode") },
            }) as ReturnType<LayerDef["lower"]>,
        },
      },
      print: (node) =>
        kind === "space_to_depth"
          ? `space_to_depth(${node.attrs.block})`
          : `depth_to_space(${node.attrs.block}, mode=${mode(node.attrs)})`,
    },
  };
  return def;
}

/** The permutations of three dimensions but the identity, named by where each output's
 * dimension comes from: `cab` is [c, a, b] of an input [a, b, c] (NHWC to NCHW). */
export const perms = ["acb", "bac", "bca", "cab", "cba"] as const;
export type Perm = (typeof perms)[number];
const permAxes = (p: Perm): [number, number, number] =>
  [...p].map((ch) => ch.charCodeAt(0) - 97) as [number, number, number];

/** The constant list input i (or attribute `name` before opset `inputFrom`); undefined if absent. */
function listArg(r: OnnxReader, i: number, name: string, inputFrom: number): number[] | undefined {
  if (r.opset >= inputFrom) return r.hasInput(i) ? Array.from(r.constant(i).data) : undefined;
  return r.hasAttr(name) ? r.attrInts(name, []) : undefined;
}

/** An axis of the ONNX value x (rank with N), normalised; channels are axis 1. */
function onnxAxis(r: OnnxReader, axis: number, x: string): number {
  const rank = r.shapeOf(x).length + 1;
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) r.fail(`axis ${axis} is outside rank ${rank}`);
  return a;
}

/** Split along channels into slices: sizes given (attribute, input) or equal parts. */
function readSplit(r: OnnxReader): void {
  const x = r.value(0);
  if (onnxAxis(r, r.attrInt("axis", 0), x) !== 1)
    r.fail("only a split along channels is supported");
  const channels = r.shapeOf(x)[0]!;
  const parts = r.outputCount;
  let sizes = listArg(r, 1, "split", 13);
  if (r.opset >= 18 && r.hasAttr("num_outputs") && r.attrInt("num_outputs", parts) !== parts)
    r.fail("num_outputs differs from the outputs the node names");
  if (!sizes) {
    // Equal parts; from opset 18 the last may be smaller (ceil(C / parts) each).
    const each = Math.ceil(channels / parts);
    if (r.opset < 18 && channels % parts) r.fail(`${channels} channels do not split into ${parts}`);
    sizes = Array.from({ length: parts }, (_, k) => Math.min(each, channels - k * each));
  }
  if (
    sizes.length !== parts ||
    sizes.some((v) => v < 0) ||
    sizes.reduce((a, b) => a + b, 0) !== channels
  )
    r.fail(
      `split sizes [${sizes.join(", ")}] do not add up to ${channels} channels in ${parts} parts`,
    );
  let start = 0;
  sizes.forEach((size, k) => {
    if (size === 0) r.fail("an empty split part is not supported");
    r.emitOutput(k, "slice", [x], { start, end: start + size });
    start += size;
  });
}

/** Slice along channels with step 1 (other axes unchanged): a channel slice. */
function readSlice(r: OnnxReader): void {
  const x = r.value(0);
  const shape = r.shapeOf(x);
  const starts = listArg(r, 1, "starts", 10) ?? [];
  const ends = listArg(r, 2, "ends", 10) ?? [];
  const axes = listArg(r, 3, "axes", 10) ?? starts.map((_, k) => k);
  const steps = (r.opset >= 10 ? listArg(r, 4, "steps", 10) : undefined) ?? axes.map(() => 1);
  if (starts.length !== axes.length || ends.length !== axes.length || steps.length !== axes.length)
    r.fail("starts, ends, axes and steps differ in length");
  // Each sliced axis: a channel slice, along H or W (L) by transposes around one.
  const cuts: { axis: number; range: [number, number] }[] = [];
  axes.forEach((axis, k) => {
    const a = onnxAxis(r, axis, x);
    const size = a === 0 ? Infinity : shape[a - 1]!;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
    const [b, e] = [clamp(starts[k]!), clamp(ends[k]!)];
    if (b === 0 && e >= size && steps[k] === 1) return;
    if (a === 0) r.fail("slicing N is not supported");
    if (steps[k] !== 1) r.fail(`a slice with step ${steps[k]} is not supported (step 1 is)`);
    if (b >= e) r.fail("the slice is empty");
    if (cuts.some((c) => c.axis === a)) r.fail(`axis ${axis} is sliced twice`);
    cuts.push({ axis: a, range: [b, e] });
  });
  if (!cuts.length) return r.alias();
  let v = x;
  for (const { axis, range } of cuts)
    v = alongAxis(r, [v], axis, ([u]) => r.emit("slice", [u!], { start: range[0], end: range[1] }));
}

/**
 * Reshape that keeps the batch (a leading 0, -1 or the folded batch size) to [N, F] is flatten,
 * and to the shape the value already has, nothing; any other target is refused.
 */
function readReshape(r: OnnxReader): void {
  const x = r.value(0);
  const shape = r.shapeOf(x);
  const per = elementCount(shape);
  const target = r.opset >= 5 ? r.batchShape(1) : r.attrInts("shape", []);
  if (r.attrInt("allowzero", 0) === 1 && target.includes(0))
    r.fail("allowzero with a 0 in the target is not supported");
  const [n, ...rest] = target;
  const keepsBatch = n === 0 || (n === -1 && rest.every((d) => d > 0));
  const dims = rest.map((d, i) => (d === 0 ? (shape[i] ?? 0) : d));
  const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const resolved = dims.map((d) => (d === -1 ? per / known : d));
  reshapeTo(r, x, keepsBatch ? resolved : undefined, `[${target.join(", ")}]`);
}

/**
 * x under the ONNX shape `dims` (without N): itself, a flatten, or a reshape; undefined (a batch
 * that does not stay N) or any other rank is refused.
 */
function reshapeTo(
  r: OnnxReader,
  x: string,
  dims: readonly number[] | undefined,
  what: string,
): void {
  const shape = r.shapeOf(x);
  const per = elementCount(shape);
  const valid = dims?.every((d) => Number.isSafeInteger(d) && d >= 1) && elementCount(dims) === per;
  if (!dims || !valid)
    return r.fail(
      `a reshape to ${what} of [N, ${shape.join(", ")}] that does not keep N is not supported`,
    );
  if (dims.length === shape.length && dims.every((d, i) => d === shape[i])) return r.alias();
  if (dims.length === 1) return void r.emit("flatten", [x], {});
  // [C, H, W]; [C, L] computes as [C, 1, L] (1-D data from here on)
  if (dims.length === 2)
    return void r.emit("reshape", [x], { shape: [dims[0]!, 1, dims[1]!] }, [], 3);
  if (dims.length === 3) return void r.emit("reshape", [x], { shape: [...dims] }, [], 4);
  r.fail(
    `a reshape to rank ${dims.length + 1} is not supported (cnnc computes [N, C, H, W], [N, C, L] and [N, F])`,
  );
}

/** Squeeze and Unsqueeze of data: reshapes that keep N (axis 0 must stay). */
function readSqueeze(r: OnnxReader): void {
  const x = r.value(0);
  const shape = r.shapeOf(x);
  const unsqueeze = r.opType === "Unsqueeze";
  const given = listArg(r, 1, "axes", 13);
  const rank = shape.length + 1 + (unsqueeze ? (given?.length ?? 0) : 0);
  const axes = (
    given ?? (unsqueeze ? [] : [...shape.keys()].filter((k) => shape[k] === 1).map((k) => k + 1))
  ).map((a) => (a < 0 ? a + rank : a));
  if (axes.includes(0)) r.fail("squeezing or unsqueezing N is not supported");
  const full = [-1, ...shape];
  let dims: number[];
  if (unsqueeze) {
    dims = [];
    let k = 0;
    for (let i = 0; i < rank; i++) dims.push(axes.includes(i) ? 1 : full[k++]!);
  } else {
    if (axes.some((a) => full[a] !== 1)) r.fail("cannot squeeze an axis of size other than 1");
    dims = full.filter((_, i) => !axes.includes(i));
  }
  reshapeTo(r, x, dims.slice(1), `[N, ${dims.slice(1).join(", ")}]`);
}

/**
 * The transpose that brings ONNX axis `axis` of x to the channel axis: "" when it is there,
 * `bac` for H, `cba` for W (L of 1-D data); each is its own inverse, so the same transpose
 * brings the result back. Undefined for N.
 */
export function toChannels(r: OnnxReader, x: string, axis: number): Perm | "" | undefined {
  const spatialRank = r.shapeOf(x).length; // 3: [C, H, W]; 2: [C, L]; 1: [F]
  const rank = spatialRank + 1;
  const a = axis < 0 ? axis + rank : axis;
  if (a < 1 || a >= rank) return undefined;
  if (a === 1) return "";
  return spatialRank === 3 && a === 2 ? "bac" : "cba";
}

/**
 * An op over the channel axis (softmax, concat) applied along ONNX axis `axis` instead:
 * transposed there and back (exact: only values move). Returns the result's IR value (the
 * node's output, emitted last).
 */
export function alongAxis(
  r: OnnxReader,
  inputs: readonly string[],
  axis: number,
  apply: (inputs: readonly string[]) => string,
): string {
  const perm = toChannels(r, inputs[0]!, axis);
  if (perm === undefined) return r.fail(`axis ${axis} is N, or outside the input's rank`);
  if (perm === "") return apply(inputs);
  const moved = inputs.map((v) => r.emit("transpose", [v], { perm }));
  r.note(`${r.opType} along axis ${axis} as transposes around it`);
  return r.emit("transpose", [apply(moved)], { perm });
}

/** Transpose that keeps N first: a permutation of [C, H, W] (an NHWC input to NCHW, ...). */
function readTranspose(r: OnnxReader): void {
  const x = r.value(0);
  const rank = r.shapeOf(x).length + 1;
  const perm = r.attrInts("perm", [...Array(rank).keys()].reverse());
  if (perm.length !== rank || perm[0] !== 0)
    r.fail(`only a permutation that keeps N first is supported, got perm [${perm.join(", ")}]`);
  if (perm.every((p, i) => p === i)) return r.alias();
  // [N, C, L] -> [N, L, C]: the lifted [C, 1, L] to [L, 1, C], lifted again
  if (rank === 3) return void r.emit("transpose", [x], { perm: "cba" }, [], 3);
  if (rank !== 4)
    r.fail(`only transposes of [N, C, H, W] and [N, C, L] are supported (rank ${rank})`);
  const name = perm
    .slice(1)
    .map((p) => String.fromCharCode(96 + p))
    .join("") as Perm;
  if (!perms.includes(name)) r.fail(`perm [${perm.join(", ")}] is not a permutation`);
  r.emit("transpose", [x], { perm: name });
}

function readPad(r: OnnxReader): void {
  const mode = r.attrStr("mode", "constant");
  const pads = r.opset >= 11 ? Array.from(r.constant(1).data) : r.attrInts("pads", []);
  if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5])
    r.fail("only padding of H and W is supported");
  if (pads.some((v) => v < 0))
    r.fail(`negative pads (cropping) are not supported: [${pads.join(", ")}]`);
  const value =
    r.opset >= 11 ? (r.hasInput(2) ? r.constant(2).data[0]! : 0) : r.attrFloat("value", 0);
  const padMode = ({ constant: "zeros", edge: "replicate", reflect: "reflect" } as const)[
    mode as "constant"
  ];
  if (!padMode) r.fail(`mode '${mode}' is not supported`);
  r.emit("pad", [r.value(0)], {
    p: [pads[2]!, pads[3]!, pads[6]!, pads[7]!],
    mode: padMode,
    value,
  });
}

/**
 * Resize and Upsample in every nearest and linear form ONNX defines (cubic, tf_crop_and_resize
 * and antialiasing are refused): the upsample op where it computes exactly the same (integer
 * scales; its kernel is simpler), else the resize op. Before opset 11 the coordinates are
 * asymmetric and nearest takes the floor (upsampling only, as ONNX Runtime's legacy mode).
 */
function readResize(r: OnnxReader): void {
  const x = r.value(0);
  const shape = r.shapeOf(x);
  if (shape.length !== 3)
    r.fail(`only [N, C, H, W] data is resized (got rank ${shape.length + 1})`);
  const [c, h, w] = shape as [number, number, number];
  const legacy = r.opType === "Upsample" || r.opset < 11;
  const list = (i: number) =>
    r.hasInput(i) && r.constant(i).data.length ? Array.from(r.constant(i).data) : undefined;
  let scales: number[] | undefined;
  let sizes: number[] | undefined;
  if (r.opType === "Upsample" && r.opset < 9) scales = r.attrFloats("scales");
  else if (legacy) scales = list(1);
  else {
    scales = list(2);
    // (sizes[0] is N, which cnnc leaves open: computed from Shape, it reads 0)
    sizes = r.hasInput(3) && r.batchShape(3).length ? r.batchShape(3) : undefined;
  }
  // Opset 18: the axes the scales or sizes are for.
  if (r.opset >= 18) {
    const axes = r.attrInts("axes", [0, 1, 2, 3]).map((a) => (a < 0 ? a + 4 : a));
    const full = (v: number[] | undefined, one: (k: number) => number) =>
      v && axes.length !== 4
        ? [0, 1, 2, 3].map((k) => (axes.includes(k) ? v[axes.indexOf(k)]! : one(k)))
        : v;
    if (axes.length !== 4 && !(axes.length === 2 && axes.includes(2) && axes.includes(3)))
      r.fail(`axes [${axes.join(", ")}] are not supported (H and W are)`);
    scales = full(scales, () => 1);
    sizes = full(sizes, (k) => [1, c, h, w][k]!);
    if (r.attrInt("antialias", 0)) r.fail("antialias is not supported");
    const policy = r.attrStr("keep_aspect_ratio_policy", "stretch");
    if (policy !== "stretch" && sizes)
      r.fail(`keep_aspect_ratio_policy '${policy}' is not supported`);
  }
  const mode = r.attrStr("mode", "nearest");
  const linear = mode === "linear" || mode === "bilinear";
  if (!linear && mode !== "nearest")
    r.fail(`mode '${mode}' is not supported (nearest and linear are)`);
  const coord = legacy ? "asymmetric" : r.attrStr("coordinate_transformation_mode", "half_pixel");
  if (!(coords as readonly string[]).includes(coord))
    r.fail(`coordinate_transformation_mode '${coord}' is not supported`);
  // (nearest_mode is read for linear too, where it changes nothing)
  const given = legacy ? "floor" : r.attrStr("nearest_mode", "round_prefer_floor");
  const rounding = linear ? "floor" : given;
  if (!(roundings as readonly string[]).includes(rounding))
    r.fail(`nearest_mode '${rounding}' is not an ONNX mode`);
  let sy: number;
  let sx: number;
  let size: Pair;
  if (scales) {
    if (
      scales.length !== 4 ||
      scales[0] !== 1 ||
      scales[1] !== 1 ||
      !(scales[2]! > 0 && scales[3]! > 0)
    )
      r.fail(`scales [${scales.join(", ")}] must be 1 for N and C and positive for H and W`);
    [sy, sx] = [scales[2]!, scales[3]!];
    size = [Math.floor(h * sy), Math.floor(w * sx)];
  } else if (sizes) {
    if (sizes.length !== 4 || sizes[1] !== c)
      r.fail(`sizes [${sizes.join(", ")}] must keep C (${c}) and give H and W`);
    size = [sizes[2]!, sizes[3]!];
    [sy, sx] = [size[0] / h, size[1] / w];
  } else return r.fail("neither scales nor sizes is given");
  if (!size.every((v) => v >= 1)) r.fail(`the output would be ${size.join("x")}`);
  if (legacy && !linear && (sy < 1 || sx < 1))
    r.fail("downsampling by the legacy nearest mode is not supported");
  // The upsample op computes exactly this where the scales are integers (resize.ts's tables
  // and its kernel agree there, see readResize's tests).
  const integer =
    [sy, sx].every((v) => Number.isInteger(v) && v >= 1) &&
    size[0] === h * sy &&
    size[1] === w * sx;
  const nearestSame =
    !linear &&
    coord === "asymmetric" &&
    (rounding === "floor" ||
      (rounding === "round_prefer_floor" && sy <= 2 && sx <= 2) ||
      (sy === 1 && sx === 1));
  const linearSame =
    linear &&
    (coord === "half_pixel" || (coord === "pytorch_half_pixel" && size.every((v) => v > 1)));
  if (integer && (nearestSame || linearSame))
    return void r.emit("upsample", [x], { scale: [sy, sx], mode: linear ? "bilinear" : "nearest" });
  r.emit("resize", [x], {
    size,
    mode: linear ? "linear" : "nearest",
    coord: coord as Coord,
    rounding: rounding as Rounding,
    sy,
    sx,
  });
}

export const shapeOps: Family<ShapeFamily> = {
  flatten: {
    attrs: {},
    arity: 1,
    weights: () => [],
    infer: (_, [x]) => [elementCount(x ?? [])],
    grad: identityGrad,
    reference: (_, [x]) => x!,
    cost: free,
    receptiveField: (_, [x], [shape]) =>
      (shape?.length ?? 1) === 3 ? wholeMap(x!, shape) : { ...x!, global: true },
    traits: { family: "shape", alias: true },
    emit: "alias",
    toOnnx: (node, w) => void w.node("Flatten", [node.inputs[0]!], node.name, { axis: int(1) }),
    fromOnnx: {
      Flatten(r) {
        const x = r.value(0);
        const rank = r.shapeOf(x).length + 1;
        const axis = r.attrInt("axis", 1);
        const a = axis < 0 ? axis + rank : axis;
        if (a === 1) r.emit("flatten", [x], {});
        // [N, C, H, W] at axis 2 is [N, C, H * W]: N stays; axis 0 and 3 do not keep N.
        else if (a >= 2 && a < rank) {
          const s = r.shapeOf(x);
          reshapeTo(
            r,
            x,
            [elementCount(s.slice(0, a - 1)), elementCount(s.slice(a - 1))],
            `axis ${axis}`,
          );
        } else r.fail(`Flatten at axis ${axis} does not keep N`);
      },
      Reshape: readReshape,
      Squeeze: readSqueeze,
      Unsqueeze: readSqueeze,
    },
    cnn: {
      layers: {
        flatten: {
          doc: "to a vector, ordered C, then H, then W",
          params: [],
          lower: () => ({ op: "flatten", attrs: {} }),
        },
      },
      print: () => "flatten",
    },
  },
  dropout: {
    attrs: { p: "float" },
    arity: 1,
    weights: () => [],
    infer(a, [x]) {
      if (!(a.p >= 0 && a.p < 1)) throw new ShapeError(`p must be in [0, 1), got ${a.p}`);
      return x ?? [];
    },
    // Training: each value kept with probability 1 - p and scaled by 1 / (1 - p) (PyTorch's
    // inverted dropout), the mask drawn from the trainer's seeded generator.
    grad: {
      train(node, [x], ctx) {
        const keep = 1 - node.attrs.p;
        const mask = new Float64Array(x!.length);
        for (let i = 0; i < mask.length; i++) mask[i] = ctx.random() < keep ? 1 / keep : 0;
        return { output: x!.map((v, i) => v * mask[i]!), saved: [mask] };
      },
      backward: (_, __, ctx) =>
        onlyInputs(ctx.saved ? ctx.dy.map((g, i) => g * ctx.saved![0]![i]!) : ctx.dy),
      emitTrain: (node, e) =>
        e.emit(
          dropoutKernel(
            node.inputs[0]!,
            node.name,
            e.hyper,
            elementCount(node.shape),
            node.attrs.p,
            false,
          ),
        ),
      emitBackward(node, e) {
        const dx = e.grad(node.inputs[0]!);
        const per = elementCount(node.shape);
        if (dx) e.emit(dropoutKernel(e.grad(node.name)!, dx, e.hyper, per, node.attrs.p, true));
      },
    },
    reference: (_, [x]) => x!,
    cost: free,
    receptiveField: pointwise,
    traits: { family: "shape", alias: true, anyLayout: true },
    // The identity at inference: its readers read its input.
    emit: { legalize: (node) => ({ alias: node.inputs[0]! }) },
    toOnnx: "legalized",
    fromOnnx: {
      Dropout: (r) => r.alias(),
      Identity: (r) => r.alias(),
      // cnnc computes in float32: a cast to float is the identity; to anything else, refused.
      Cast(r) {
        const to = r.attrInt("to", 0);
        if (to !== 1)
          r.fail(`a cast of a computed value to data type ${to} is not supported (to float is)`);
        r.alias();
      },
    },
    cnn: {
      layers: {
        dropout: {
          doc: "identity at inference",
          params: [{ name: "p", kind: "probability", default: 0.5 }],
          lower: (a) => ({ op: "dropout", attrs: { p: a.float("p") } }),
        },
      },
      print: (node) => `dropout(${num(node.attrs.p)})`,
    },
  },
  pad: {
    attrs: { p: "quad", mode: padModes, value: "float" },
    arity: 1,
    weights: () => [],
    infer(a, [x]) {
      const [c, h, w] = spatial(x);
      checkReflect(a.p, h, w, a.mode);
      const [t, l, b, r] = a.p;
      return checked([c, h + t + b, w + l + r]);
    },
    // the border's constant takes no gradient: the operator is the padding with 0 there
    grad: spatialGrad(
      () => shapeOps.pad,
      (n) => ({ ...n, attrs: { ...n.attrs, value: 0 } }),
    ),
    reference(node, [x], ctx) {
      const [c, h, w] = dims3(ctx.inputShapes[0]);
      const [, ho, wo] = dims3(node.shape);
      const { p, mode, value } = node.attrs;
      const out = new Float64Array(ctx.batch * c * ho * wo);
      for (let nc = 0; nc < ctx.batch * c; nc++) {
        for (let oy = 0; oy < ho; oy++) {
          const iy = sourceIndex(oy - p[0], h, mode);
          for (let ox = 0; ox < wo; ox++) {
            const ix = sourceIndex(ox - p[1], w, mode);
            out[(nc * ho + oy) * wo + ox] = iy < 0 || ix < 0 ? value : x![(nc * h + iy) * w + ix]!;
          }
        }
      }
      return out;
    },
    cost: free,
    // A padded map: output pixel (y, x) is input pixel (y - top, x - left); jump and field stay.
    receptiveField: pointwise,
    traits: { family: "shape" },
    emit: (node, e) =>
      e.emit(
        padKernel({
          input: node.inputs[0]!,
          output: e.output,
          inShape: dims3(e.inShapes[0]),
          outShape: dims3(node.shape),
          ...node.attrs,
        }),
      ),
    toOnnx: (node, w) =>
      void writePad(w, node.inputs[0]!, node.name, node.attrs.p, node.attrs.mode, node.attrs.value),
    fromOnnx: { Pad: readPad },
    cnn: {
      layers: {
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
      },
      print: ({ attrs: a }) => `pad(${list(a.p)}, mode=${a.mode}, value=${num(a.value)})`,
    },
  },
  concat: {
    attrs: {},
    arity: "many",
    weights: () => [],
    infer(_, inputs) {
      const first = inputs[0] ?? [];
      for (const other of inputs.slice(1)) {
        const ok =
          other.length === first.length && other.every((d, i) => i === 0 || d === first[i]);
        if (!ok) throw new ShapeError(`${formatShape(first)} vs ${formatShape(other)}`);
      }
      return [inputs.reduce((sum, s) => sum + s[0]!, 0), ...first.slice(1)];
    },
    grad: {
      ...gatherGrad(() => shapeOps.concat),
      emitBackward(node, e) {
        const dy = e.grad(node.name)!;
        const total = node.shape[0]!;
        const inner = elementCount(node.shape) / total;
        let offset = 0;
        node.inputs.forEach((v, k) => {
          const channels = e.inShapes[k]![0]!;
          const dx = e.grad(v);
          if (dx) e.emit(concatGrad(dy, dx, channels, inner, total, offset));
          offset += channels;
        });
      },
    },
    reference(node, inputs, ctx) {
      const total = elementCount(node.shape);
      const out = new Float64Array(ctx.batch * total);
      for (let n = 0; n < ctx.batch; n++) {
        let offset = n * total;
        inputs.forEach((t, k) => {
          const per = elementCount(ctx.inputShapes[k]!);
          out.set(t.subarray(n * per, (n + 1) * per), offset);
          offset += per;
        });
      }
      return out;
    },
    cost: free,
    receptiveField: (_, inputs) => merged(inputs),
    traits: { family: "merge", merge: true, anyLayout: true },
    // Inputs whose producer wrote into its slice already need no copy.
    emit(node, e) {
      const ys = dims3(node.shape);
      const perBatch = elementCount(node.shape);
      let offset = 0;
      let channel = 0;
      node.inputs.forEach((v, k) => {
        const per = elementCount(e.inShapes[k]!);
        const inShape = dims3(e.inShapes[k]);
        const layouts = {
          inLayout: e.layout(v),
          outLayout: e.layout(e.output),
          inShape,
          slice: { channels: ys[0], offset: channel },
        };
        if (!e.writtenInSlice(v))
          e.emit(
            concatCopyKernel({
              input: v,
              output: e.output,
              perBatch: per,
              outPerBatch: perBatch,
              offset,
              layouts,
            }),
          );
        offset += per;
        channel += inShape[0];
      });
    },
    toOnnx: (node, w) => void w.node("Concat", node.inputs, node.name, { axis: int(1) }),
    fromOnnx: {
      // Along channels; along H or W (L) by transposes around a channel concat.
      Concat(r) {
        const inputs = Array.from({ length: r.inputCount }, (_, i) => r.value(i));
        const ranks = new Set(inputs.map((v) => r.shapeOf(v).length));
        if (ranks.size !== 1) r.fail("the inputs differ in rank");
        alongAxis(r, inputs, r.attrInt("axis", 1), (moved) => r.emit("concat", moved, {}));
      },
    },
    cnn: { layers: {}, print: (node) => `concat(${node.inputs.join(", ")})` },
  },
  upsample: {
    attrs: { scale: "pair", mode: upsampleModes },
    arity: 1,
    weights: () => [],
    infer(a, [x]) {
      const [c, h, w] = spatial(x);
      if (!a.scale.every((v) => Number.isSafeInteger(v) && v >= 1))
        throw new ShapeError(`scale ${a.scale.join("x")} must be positive integers`);
      return checked([c, h * a.scale[0], w * a.scale[1]]);
    },
    // Nearest: src = floor(dst / scale). Bilinear, align_corners = false (PyTorch's default):
    // src = (dst + 0.5) / scale - 0.5, clamped at 0, between the two nearest pixels.
    grad: spatialGrad(() => shapeOps.upsample),
    reference(node, [x], ctx) {
      const [c, h, w] = dims3(ctx.inputShapes[0]);
      const [, ho, wo] = dims3(node.shape);
      const { scale, mode } = node.attrs;
      const out = new Float64Array(ctx.batch * c * ho * wo);
      const at = (nc: number, y: number, xx: number): number => x![(nc * h + y) * w + xx]!;
      for (let nc = 0; nc < ctx.batch * c; nc++) {
        for (let oy = 0; oy < ho; oy++) {
          for (let ox = 0; ox < wo; ox++) {
            let v: number;
            if (mode === "nearest")
              v = at(nc, Math.floor(oy / scale[0]), Math.floor(ox / scale[1]));
            else {
              const sy = Math.max((oy + 0.5) / scale[0] - 0.5, 0);
              const sx = Math.max((ox + 0.5) / scale[1] - 0.5, 0);
              const y0 = Math.floor(sy);
              const x0 = Math.floor(sx);
              const y1 = Math.min(y0 + 1, h - 1);
              const x1 = Math.min(x0 + 1, w - 1);
              const fy = sy - y0;
              const fx = sx - x0;
              v =
                (1 - fy) * ((1 - fx) * at(nc, y0, x0) + fx * at(nc, y0, x1)) +
                fy * ((1 - fx) * at(nc, y1, x0) + fx * at(nc, y1, x1));
            }
            out[(nc * ho + oy) * wo + ox] = v;
          }
        }
      }
      return out;
    },
    cost: (node) => ({
      macs: 0,
      flops: node.attrs.mode === "bilinear" ? 8 * elementCount(node.shape) : 0,
    }),
    receptiveField(node, [x]) {
      const { scale, mode } = node.attrs;
      const extra = mode === "bilinear" ? 1 : 0;
      return {
        rf: [x!.rf[0] + extra * x!.jump[0], x!.rf[1] + extra * x!.jump[1]],
        jump: [x!.jump[0] / scale[0], x!.jump[1] / scale[1]],
        global: x!.global,
      };
    },
    traits: { family: "resample" },
    emit: (node, e) =>
      e.emit(
        upsampleKernel({
          input: node.inputs[0]!,
          output: e.output,
          inShape: dims3(e.inShapes[0]),
          outShape: dims3(node.shape),
          ...node.attrs,
        }),
      ),
    toOnnx(node, w) {
      const { scale, mode } = node.attrs;
      const scales = w.floats(`${node.name}.scales`, [4], [1, 1, scale[0], scale[1]]);
      const attrs: Readonly<Record<string, OnnxAttr>> =
        mode === "nearest"
          ? {
              mode: str("nearest"),
              coordinate_transformation_mode: str("asymmetric"),
              nearest_mode: str("floor"),
            }
          : { mode: str("linear"), coordinate_transformation_mode: str("pytorch_half_pixel") };
      w.node("Resize", [node.inputs[0]!, "", scales], node.name, attrs);
    },
    fromOnnx: {},
    cnn: {
      layers: {
        upsample: {
          doc: "upsampling by an integer factor",
          params: [
            { name: "scale", kind: "pair", default: [2, 2] },
            { name: "mode", kind: upsampleModes, default: "nearest" },
          ],
          lower: (a) => ({
            op: "upsample",
            attrs: { scale: a.pair("scale"), mode: a.word("mode") },
          }),
        },
      },
      print: ({ attrs: a }) => `upsample(${list(a.scale)}, mode=${a.mode})`,
    },
  },
  slice: {
    attrs: { start: "int", end: "int" },
    arity: 1,
    weights: () => [],
    infer(a, [x]) {
      const c = x?.[0] ?? 0;
      if (!x || (x.length !== 3 && x.length !== 1))
        throw new ShapeError(`expects a [C, H, W] or [F] input, got ${formatShape(x ?? [])}`);
      if (!(Number.isSafeInteger(a.start) && a.start >= 0 && a.start < a.end && a.end <= c))
        throw new ShapeError(`channels [${a.start}, ${a.end}) are not a range of 0..${c}`);
      return [a.end - a.start, ...x.slice(1)];
    },
    grad: gatherGrad(() => shapeOps.slice),
    reference(node, [x], ctx) {
      const inShape = ctx.inputShapes[0]!;
      const inner = elementCount(inShape.slice(1));
      const per = elementCount(inShape);
      const size = elementCount(node.shape);
      const out = new Float64Array(ctx.batch * size);
      for (let n = 0; n < ctx.batch; n++)
        out.set(
          x!.subarray(n * per + node.attrs.start * inner, n * per + node.attrs.end * inner),
          n * size,
        );
      return out;
    },
    cost: free,
    receptiveField: pointwise,
    traits: { family: "shape" },
    emit(node, e) {
      const inShape = e.inShapes[0]!;
      e.emit(
        channelSliceKernel({
          input: node.inputs[0]!,
          output: e.output,
          perBatch: elementCount(node.shape),
          inPerBatch: elementCount(inShape),
          offset: node.attrs.start * elementCount(inShape.slice(1)),
        }),
      );
    },
    toOnnx(node, w) {
      const { start, end } = node.attrs;
      w.node(
        "Slice",
        [
          node.inputs[0]!,
          w.int64s(`${node.name}.starts`, [start]),
          w.int64s(`${node.name}.ends`, [end]),
          w.int64s(`${node.name}.axes`, [1]),
        ],
        node.name,
      );
    },
    fromOnnx: { Split: readSplit, Slice: readSlice },
    cnn: {
      layers: {
        slice: {
          doc: "channels [start, end)",
          params: [
            { name: "start", kind: "natural" },
            { name: "end", kind: "count" },
          ],
          lower: (a) => ({ op: "slice", attrs: { start: a.int("start"), end: a.int("end") } }),
        },
      },
      print: ({ attrs: a }) => `slice(${a.start}, ${a.end})`,
    },
  },
  reshape: {
    attrs: { shape: "dims" },
    arity: 1,
    weights: () => [],
    infer(a, [x]) {
      if (a.shape.length === 2)
        throw new ShapeError(`a shape is [C, H, W] or [F], got ${formatShape(a.shape)}`);
      if (elementCount(a.shape) !== elementCount(x ?? []))
        throw new ShapeError(
          `${formatShape(x ?? [])} has ${elementCount(x ?? [])} values, ${formatShape(a.shape)} ${elementCount(a.shape)}`,
        );
      return checked([...a.shape]);
    },
    grad: identityGrad,
    reference: (_, [x]) => x!,
    cost: free,
    receptiveField: (_, [x], [shape]) => wholeMap(x!, shape),
    // NCHW order in and out (layout assignment pins an op without `anyLayout` to NCHW)
    traits: { family: "shape", alias: true },
    emit: "alias",
    toOnnx: (node, w) =>
      void w.node(
        "Reshape",
        [node.inputs[0]!, w.int64s(`${node.name}.shape`, [0, ...node.attrs.shape])],
        node.name,
      ),
    fromOnnx: {},
    cnn: {
      layers: {
        reshape: {
          doc: "the same values in NCHW order as [C, H, W] or [F]",
          params: [{ name: "shape", kind: "dims" }],
          lower: (a) => ({ op: "reshape", attrs: { shape: a.dims("shape") } }),
        },
      },
      print: ({ attrs: a }) => `reshape(${list(a.shape)})`,
    },
  },
  transpose: {
    attrs: { perm: perms },
    arity: 1,
    weights: () => [],
    infer(a, [x]) {
      const [c, h, w] = spatial(x);
      const dims = [c, h, w];
      return permAxes(a.perm).map((p) => dims[p]!);
    },
    grad: gatherGrad(() => shapeOps.transpose),
    reference(node, [x], ctx) {
      const [a, b, c] = dims3(ctx.inputShapes[0]);
      const inStride = [b * c, c, 1];
      const p = permAxes(node.attrs.perm);
      const out = dims3(node.shape);
      const per = a * b * c;
      const y = new Float64Array(x!.length);
      for (let n = 0; n < ctx.batch; n++)
        for (let i = 0; i < out[0]; i++)
          for (let j = 0; j < out[1]; j++)
            for (let k = 0; k < out[2]; k++)
              y[n * per + (i * out[1] + j) * out[2] + k] =
                x![n * per + i * inStride[p[0]]! + j * inStride[p[1]]! + k * inStride[p[2]]!]!;
      return y;
    },
    cost: free,
    receptiveField: (_, [x], [shape]) => wholeMap(x!, shape),
    traits: { family: "shape" },
    emit: (node, e) =>
      e.emit(
        transposeKernel({
          input: node.inputs[0]!,
          output: e.output,
          inShape: dims3(e.inShapes[0]),
          perm: permAxes(node.attrs.perm),
        }),
      ),
    toOnnx: (node, w) =>
      void w.node("Transpose", [node.inputs[0]!], node.name, {
        perm: ints([0, ...permAxes(node.attrs.perm).map((p) => p + 1)]),
      }),
    fromOnnx: { Transpose: readTranspose },
    cnn: {
      layers: {
        transpose: {
          doc: "permutes an item's dimensions: cab of [a, b, c] is [c, a, b] (NHWC to NCHW)",
          params: [{ name: "perm", kind: perms }],
          lower: (a) => ({ op: "transpose", attrs: { perm: a.word("perm") as Perm } }),
        },
      },
      print: ({ attrs: a }) => `transpose(${a.perm})`,
    },
  },
  depth_to_space: shuffleOp("depth_to_space"),
  space_to_depth: shuffleOp("space_to_depth"),
  resize: {
    attrs: {
      size: "pair",
      mode: ["nearest", "linear"],
      coord: coords,
      rounding: roundings,
      sy: "float",
      sx: "float",
    },
    arity: 1,
    weights: () => [],
    infer(a, [x]) {
      const [c] = spatial(x);
      if (!(a.sy > 0 && a.sx > 0))
        throw new ShapeError(`scales must be positive, got ${a.sy}, ${a.sx}`);
      if (!a.size.every((v) => Number.isSafeInteger(v) && v >= 1))
        throw new ShapeError(`size ${a.size.join("x")} must be positive integers`);
      return checked([c, a.size[0], a.size[1]]);
    },
    grad: spatialGrad(() => shapeOps.resize),
    reference(node, [x], ctx) {
      const [c, h, w] = dims3(ctx.inputShapes[0]);
      const a = node.attrs;
      const [ho, wo] = a.size;
      const linear = a.mode === "linear";
      const ty = resizeAxis(ho, h, a.sy, a.coord, linear, a.rounding);
      const tx = resizeAxis(wo, w, a.sx, a.coord, linear, a.rounding);
      const out = new Float64Array(ctx.batch * c * ho * wo);
      const at = (nc: number, yy: number, xx: number) => x![(nc * h + yy) * w + xx]!;
      for (let nc = 0; nc < ctx.batch * c; nc++)
        for (let oy = 0; oy < ho; oy++)
          for (let ox = 0; ox < wo; ox++) {
            const [wy, wx] = [ty.w[oy]!, tx.w[ox]!];
            const top =
              (1 - wx) * at(nc, ty.i0[oy]!, tx.i0[ox]!) + wx * at(nc, ty.i0[oy]!, tx.i1[ox]!);
            const bottom =
              (1 - wx) * at(nc, ty.i1[oy]!, tx.i0[ox]!) + wx * at(nc, ty.i1[oy]!, tx.i1[ox]!);
            out[(nc * ho + oy) * wo + ox] = linear
              ? (1 - wy) * top + wy * bottom
              : at(nc, ty.i0[oy]!, tx.i0[ox]!);
          }
      return out;
    },
    cost: (node) => perOutput(node.attrs.mode === "linear" ? 9 : 0)(node),
    receptiveField: (_, [x], [shape]) => wholeMap(x!, shape),
    traits: { family: "resample" },
    emit(node, e) {
      const a = node.attrs;
      const inShape = dims3(e.inShapes[0]);
      const linear = a.mode === "linear";
      e.emit(
        resizeKernel({
          input: node.inputs[0]!,
          output: e.output,
          inShape,
          outShape: dims3(node.shape),
          linear,
          ty: resizeAxis(a.size[0], inShape[1], a.sy, a.coord, linear, a.rounding),
          tx: resizeAxis(a.size[1], inShape[2], a.sx, a.coord, linear, a.rounding),
        }),
      );
    },
    toOnnx(node, w) {
      const a = node.attrs;
      const [, h, wd] = w.shapeOf(node.inputs[0]!) as [number, number, number];
      // sizes where the scales are their ratios (ONNX derives them so), else the scales,
      // which must floor to the size.
      const derived = a.sy === a.size[0] / h && a.sx === a.size[1] / wd;
      const floors = Math.floor(h * a.sy) === a.size[0] && Math.floor(wd * a.sx) === a.size[1];
      if (!derived && !floors)
        w.fail(`resize to ${a.size.join("x")} by scales ${a.sy}, ${a.sx} has no ONNX form`);
      const roi = w.floats(`${node.name}.roi`, [0], []);
      // sizes give N too: [N, C] from Shape(x), then H and W.
      const sizes = () => {
        const shape = w.node("Shape", [node.inputs[0]!], `${node.name}.shape`);
        const nc = w.node(
          "Slice",
          [shape, w.int64s(`${node.name}.zero`, [0]), w.int64s(`${node.name}.two`, [2])],
          `${node.name}.nc`,
        );
        return w.node(
          "Concat",
          [nc, w.int64s(`${node.name}.hw`, [...a.size])],
          `${node.name}.sizes`,
          {
            axis: int(0),
          },
        );
      };
      const inputs = derived
        ? [node.inputs[0]!, roi, "", sizes()]
        : [node.inputs[0]!, roi, w.floats(`${node.name}.scales`, [4], [1, 1, a.sy, a.sx])];
      w.node("Resize", inputs, node.name, {
        mode: str(a.mode),
        coordinate_transformation_mode: str(a.coord),
        ...(a.mode === "nearest" ? { nearest_mode: str(a.rounding) } : {}),
      });
    },
    fromOnnx: { Resize: readResize, Upsample: readResize },
    cnn: {
      layers: {
        resize: {
          doc: "ONNX's Resize: nearest or linear to a size, by a coordinate mode",
          params: [
            { name: "size", kind: "pair" },
            { name: "mode", kind: ["nearest", "linear"], default: "nearest" },
            { name: "coord", kind: coords, default: "half_pixel" },
            { name: "rounding", kind: roundings, default: "round_prefer_floor" },
            // 0: the ratio of the sizes
            { name: "sy", kind: "float", default: 0 },
            { name: "sx", kind: "float", default: 0 },
          ],
          lower: (a, site) => {
            const size = a.pair("size");
            const [, h, w] = site.input;
            // scales default to the ratio of the sizes
            const sy = a.float("sy") || size[0] / (h ?? 1);
            const sx = a.float("sx") || size[1] / (w ?? 1);
            return {
              op: "resize",
              attrs: {
                size,
                mode: a.word("mode") as "nearest" | "linear",
                coord: a.word("coord") as Coord,
                rounding: a.word("rounding") as Rounding,
                sy,
                sx,
              },
            };
          },
        },
      },
      print: ({ attrs: a }) =>
        `resize(${list(a.size)}, mode=${a.mode}, coord=${a.coord}, rounding=${a.rounding}, sy=${num(a.sy)}, sx=${num(a.sx)})`,
    },
  },
};
