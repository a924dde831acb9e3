// From IR to a dispatch plan: kernel selection (which generator, by op and shape) is here;
// shader writing is in the generators. Every value gets a buffer (flatten and dropout alias
// their input's) and a layout (layout.ts); identical shaders are kept once.
import {
  elementCount,
  formatShape,
  valueShapes,
  type Graph,
  type Node,
  type Shape,
} from "../ir/graph.js";
import { inPlaceOperands } from "../analysis/memory.js";
import { nodeActivation } from "../ir/ops.js";
import {
  candidates,
  choiceName,
  defaultChoice,
  readsLayout,
  tunable,
  type KernelChoice,
} from "./choice.js";
import { defaultTiles, gemmConvKernel, splitKReduceKernel } from "./gemm.js";
import { gemvKernel } from "./gemv.js";
import { pointwiseConvKernel } from "./pointwise.js";
import { winogradInputKernel, winogradOutputKernel, winogradTiles } from "./winograd.js";
import {
  activationKernel,
  batchNormKernel,
  broadcastKernel,
  concatCopyKernel,
  deconvKernel,
  depthwiseConvKernel,
  directConvKernel,
  globalPoolKernel,
  lrnKernel,
  padKernel,
  poolKernel,
  softmaxKernel,
  upsampleKernel,
} from "./direct.js";
import type { Kernel, Plan, PlanDispatch, PlanValue, PlanWeight } from "./plan-types.js";
import { epilogueActivation, type Activation, type Layout, type OutputSlice } from "./wgsl.js";
import { planMemory } from "./memory.js";
import { assignLayouts, layoutGroups } from "./layout.js";

export interface CodegenOptions {
  /**
   * The largest storage binding the target allows (WebGPU's default limit, 128 MiB). A dense
   * weight above it is split into row ranges, one dispatch each; a larger conv weight is an error.
   */
  readonly maxBindingBytes?: number;
  /** Share arena memory between values whose lifetimes do not overlap (-O1 and up). */
  readonly planMemory?: boolean;
  /**
   * Concat elimination (-O2): a conv whose only reader is a concat writes straight into its
   * channel slice of the concat's buffer, so that input needs neither a buffer nor a copy.
   */
  readonly eliminateConcat?: boolean;
  /** The kernel of a layer with a choice (measured by `cnnc tune`); absent: `defaultChoice`. */
  readonly choices?: ReadonlyMap<string, KernelChoice>;
  /**
   * Store every activation that may take either layout (layout.ts) in this one, whatever the
   * layers' choices ask: `cnnc build --layout`, and tests that run each kernel in each layout.
   */
  readonly layout?: Layout;
  /**
   * The layout the network's [C, H, W] inputs arrive in (NCHW where absent). NHWC is how
   * `cnnc tune` measures a layer alone reading an NHWC input; it feeds the input in that order.
   */
  readonly inputLayout?: Layout;
}

/** The convs that write into a concat's slice, by the value they would have produced. */
export function concatSlices(graph: Graph): Map<string, { concat: string; slice: OutputSlice }> {
  const reads = new Map<string, number>();
  for (const n of graph.nodes) for (const v of n.inputs) reads.set(v, (reads.get(v) ?? 0) + 1);
  for (const o of graph.outputs) reads.set(o.value, (reads.get(o.value) ?? 0) + 1);
  const made = new Map(graph.nodes.map((n) => [n.name, n]));
  const slices = new Map<string, { concat: string; slice: OutputSlice }>();
  for (const c of graph.nodes) {
    if (c.op !== "concat" || c.shape.length !== 3) continue;
    let offset = 0;
    for (const v of c.inputs) {
      const p = made.get(v);
      if (p?.op === "conv2d" && reads.get(v) === 1) {
        slices.set(v, { concat: c.name, slice: { channels: c.shape[0]!, offset } });
      }
      offset +=
        p?.shape[0] ?? made.get(v)?.shape[0] ?? graph.inputs.find((i) => i.name === v)!.shape[0]!;
    }
  }
  return slices;
}

export class CodegenError extends Error {}

const defaultMaxBinding = 128 * 1024 * 1024;

type Dims3 = readonly [number, number, number];
const dims3 = (s: Shape | undefined): Dims3 => [s?.[0] ?? 1, s?.[1] ?? 1, s?.[2] ?? 1];

export function planGraph(graph: Graph, options: CodegenOptions = {}): Plan {
  if (!options.planMemory) return planOnce(graph, options, false);
  // In-place ops lengthen their operand's lifetime, which can fragment the best-fit arena:
  // keep in-place only where the arena it gives is no larger.
  const inPlace = planOnce(graph, options, true);
  const separate = planOnce(graph, options, false);
  return inPlace.arena <= separate.arena ? inPlace : separate;
}

function planOnce(graph: Graph, options: CodegenOptions, allowInPlace: boolean): Plan {
  const maxBinding = options.maxBindingBytes ?? defaultMaxBinding;
  const shapes = valueShapes(graph);
  const declared = new Map(graph.weights.map((w) => [w.name, w.shape]));
  const weights = new Map<string, PlanWeight>();
  const kernels: string[] = [];
  const kernelIndex = new Map<string, number>();
  const dispatches: PlanDispatch[] = [];

  const fits = (name: string, shape: readonly number[]): void => {
    if (elementCount(shape) * 4 > maxBinding) {
      throw new CodegenError(
        `weight '${name}' ${formatShape(shape)} needs ${elementCount(shape) * 4} bytes, over the ${maxBinding}-byte storage binding limit`,
      );
    }
  };
  const useWeight = (name: string): string => {
    const shape = declared.get(name)!;
    fits(name, shape);
    if (!weights.has(name)) weights.set(name, { name, shape, source: name });
    return name;
  };
  const emit = (label: string, k: Kernel): void => {
    let index = kernelIndex.get(k.wgsl);
    if (index === undefined) {
      index = kernels.length;
      kernels.push(k.wgsl);
      kernelIndex.set(k.wgsl, index);
    }
    dispatches.push({ label, kernel: index, bindings: k.bindings, grid: k.grid });
  };

  const slices = options.eliminateConcat
    ? concatSlices(graph)
    : new Map<string, { concat: string; slice: OutputSlice }>();
  const inPlaceOf = inPlaceOperands(graph, new Set(slices.keys()));
  const choices = new Map(
    graph.nodes.map((n) => [n.name, kernelChoice(n, shapes.get(n.inputs[0]!), options.choices)]),
  );
  const layouts = assignLayouts(
    graph,
    layoutGroups(graph, slices),
    (n) => {
      const c = choices.get(n.name);
      return c && readsLayout(c);
    },
    options.layout,
  );
  if (options.inputLayout === "nhwc") {
    for (const i of graph.inputs) if (i.shape.length === 3) layouts.set(i.name, "nhwc");
  }
  const layoutOf = (v: string): Layout => layouts.get(v) ?? "nchw";
  const nhwc = (v: string) => (layoutOf(v) === "nhwc" ? { layout: "nhwc" as const } : {});
  const values: PlanValue[] = graph.inputs.map((i) => ({
    name: i.name,
    perBatch: elementCount(i.shape),
    ...nhwc(i.name),
  }));
  for (const node of graph.nodes) {
    const inShapes = node.inputs.map((v) => shapes.get(v)!);
    const x = node.inputs[0]!;
    if (node.op === "flatten" || node.op === "dropout") {
      values.push({ name: node.name, perBatch: elementCount(node.shape), alias: x });
      continue;
    }
    const into = slices.get(node.name);
    const inPlace = allowInPlace && !into ? inPlaceOf.get(node.name) : undefined;
    const perBatch = elementCount(node.shape);
    if (inPlace !== undefined) {
      values.push({ name: node.name, perBatch, alias: inPlace, ...nhwc(node.name) });
    } else if (!into) values.push({ name: node.name, perBatch, ...nhwc(node.name) });
    lowerNode(node, inShapes, into, slices, {
      inPlace,
      choice: choices.get(node.name),
      layout: layoutOf,
      emit: (k) => emit(node.name, k),
      weight: useWeight,
      hwcWeight: (name) => {
        const [f, c, kh, kw] = declared.get(name)!;
        if (kh === 1 && kw === 1) return useWeight(name); // [F, C, 1, 1] is [F, 1, 1, C]
        const derived = `${name}#hwc`;
        const shape = [f!, kh!, kw!, c!];
        fits(derived, shape);
        weights.set(derived, { name: derived, shape, source: name, transform: "hwc" });
        return derived;
      },
      winogradWeight: (name) => {
        const [f, c] = declared.get(name)!;
        const shape = [16, f!, c!];
        const derived = `${name}#winograd`;
        fits(derived, shape);
        weights.set(derived, { name: derived, shape, source: name, transform: "winograd" });
        return derived;
      },
      temp: (suffix, perBatch) => {
        const name = `${node.name}#${suffix}`;
        values.push({ name, perBatch });
        return name;
      },
      splitRows: (name, rows) => {
        const shape = declared.get(name)!;
        const rowBytes = (elementCount(shape) / shape[0]!) * 4;
        const per = Math.max(1, Math.floor(maxBinding / rowBytes));
        const chunks: [number, number][] = [];
        for (let r = 0; r < rows; r += per) chunks.push([r, Math.min(rows, r + per)]);
        if (chunks.length === 1) return [{ name: useWeight(name), rows: [0, rows] as const }];
        return chunks.map(([r0, r1]) => {
          const chunk = `${name}[${r0}:${r1}]`;
          weights.set(chunk, {
            name: chunk,
            shape: [r1 - r0, ...shape.slice(1)],
            source: name,
            rows: [r0, r1],
          });
          return { name: chunk, rows: [r0, r1] as const };
        });
      },
    });
  }
  const outputs = graph.outputs.map((o) => ({
    name: o.name,
    value: o.value,
    shape: shapes.get(o.value)!,
  }));
  const memory = planMemory(
    values,
    dispatches,
    graph.inputs.map((i) => i.name),
    outputs.map((o) => o.value),
    options.planMemory ?? false,
  );
  return {
    network: graph.name,
    inputs: graph.inputs.map((i) => ({ name: i.name, shape: i.shape })),
    outputs,
    values: values.map((v) => ({ ...v, offset: memory.offsets.get(v.name)! })),
    arena: memory.arena,
    weights: [...weights.values()],
    kernels,
    dispatches,
  };
}

/** The kernel of a layer with a choice: the given one (checked to apply), else the default. */
function kernelChoice(
  node: Node,
  input: Shape | undefined,
  choices: ReadonlyMap<string, KernelChoice> | undefined,
): KernelChoice | undefined {
  if (!tunable(node, input)) return undefined;
  const given = choices?.get(node.name);
  if (!given) return defaultChoice(node, input);
  const name = choiceName(given);
  if (!candidates(node, input, Infinity, true).some((c) => choiceName(c) === name)) {
    throw new CodegenError(`kernel '${name}' does not apply to layer '${node.name}' (${node.op})`);
  }
  return given;
}

/** The fused activation and residual of a conv2d or dense node, as generator options. */
function epilogueOf(node: Node & { op: "conv2d" | "dense" }): {
  act?: Activation;
  residual?: string;
} {
  const act = epilogueActivation(node.attrs.act, node.attrs.alpha);
  const residual = node.inputs[1];
  return { ...(act ? { act } : {}), ...(residual ? { residual } : {}) };
}

/** The post-activation of a pooling, batch norm or elementwise node (fuse-activation). */
function postActivation(node: Node): Activation | undefined {
  const { act, alpha } = nodeActivation(node);
  return epilogueActivation(act, alpha);
}

interface Emitter {
  emit(k: Kernel): void;
  weight(name: string): string;
  /** The Winograd-transformed copy of a 3x3 conv weight, [16, F, C] (made at build time). */
  winogradWeight(name: string): string;
  /** A conv weight as [F, KH, KW, C], as the GEMM reads it over an NHWC input. */
  hwcWeight(name: string): string;
  /** The layout a value is stored in. */
  layout(value: string): Layout;
  temp(suffix: string, perBatch: number): string;
  splitRows(name: string, rows: number): { name: string; rows: readonly [number, number] }[];
  /** The kernel of a layer with a choice (`kernelChoice`). */
  readonly choice?: KernelChoice | undefined;
  /** The operand whose memory this node overwrites (in-place elementwise), if any. */
  readonly inPlace?: string | undefined;
}

function lowerNode(
  node: Node,
  inShapes: readonly Shape[],
  into: { concat: string; slice: OutputSlice } | undefined,
  slices: ReadonlyMap<string, unknown>,
  e: Emitter,
): void {
  const x = node.inputs[0]!;
  const y = into?.concat ?? node.name;
  const slice = into ? { slice: into.slice } : {};
  const xs = dims3(inShapes[0]);
  const ys = dims3(node.shape);
  const perBatch = elementCount(node.shape);
  switch (node.op) {
    case "conv2d": {
      const a = node.attrs;
      const [w, b] = node.weights;
      const bias = b === undefined ? {} : { bias: e.weight(b) };
      const epilogue = epilogueOf(node);
      const inLayout = e.layout(x);
      const outLayout = e.layout(y);
      const resLayout =
        epilogue.residual === undefined ? {} : { resLayout: e.layout(epilogue.residual) };
      const layouts = { inLayout, outLayout, ...resLayout };
      // Selection: the implicit GEMM (or Winograd, kernelChoice) serves ungrouped convs with
      // zero padding; grouped and depthwise convs and the other padding modes take the direct
      // kernel.
      // (the pointwise kernel reads NCHW alone; where the input's group went NHWC by the
      // other readers' votes, the GEMM serves)
      const choice: KernelChoice | undefined =
        e.choice?.kernel === "pointwise" && inLayout === "nhwc"
          ? { kernel: "gemm", tiles: defaultTiles }
          : e.choice;
      if (choice?.kernel === "winograd") {
        const tiles = winogradTiles(ys);
        const v = e.temp("winograd-in", 16 * xs[0] * tiles);
        const m = e.temp("winograd-out", 16 * ys[0] * tiles);
        const pad = [a.p[0], a.p[1]] as const;
        e.emit(
          winogradInputKernel({ input: x, output: v, inShape: xs, outShape: ys, pad, inLayout }),
        );
        e.emit(
          gemmConvKernel(
            {
              input: v,
              output: m,
              weight: e.winogradWeight(w!),
              inShape: [xs[0], 1, tiles],
              outShape: [ys[0], 1, tiles],
              k: [1, 1],
              s: [1, 1],
              d: [1, 1],
              pad: [0, 0],
              batched: 16,
            },
            choice.tiles,
          ),
        );
        e.emit(
          winogradOutputKernel({
            input: m,
            output: y,
            ...bias,
            inShape: xs,
            outShape: ys,
            pad,
            ...epilogue,
            ...slice,
            outLayout,
            ...resLayout,
          }),
        );
      } else {
        // a GEMM over an NHWC input reads the weight as [F, KH, KW, C]
        const gemm = choice?.kernel === "gemm" || choice?.kernel === "splitk";
        const conv = {
          input: x,
          output: y,
          weight: gemm && inLayout === "nhwc" ? e.hwcWeight(w!) : e.weight(w!),
          ...bias,
          inShape: xs,
          outShape: ys,
          k: a.k,
          s: a.s,
          d: a.d,
          ...epilogue,
          ...slice,
          ...layouts,
        };
        if (choice?.kernel === "gemm") {
          e.emit(gemmConvKernel({ ...conv, pad: [a.p[0], a.p[1]] }, choice.tiles));
        } else if (choice?.kernel === "pointwise") {
          e.emit(pointwiseConvKernel({ ...conv, pad: [a.p[0], a.p[1]] }, choice.blocks));
        } else if (choice?.kernel === "splitk") {
          // partial sums of each K range, then their sum with the epilogue
          const parts = choice.parts;
          const partial = e.temp("split-k", parts * perBatch);
          const { input, weight, inShape, outShape, k, s, d } = conv;
          const pad = [a.p[0], a.p[1]] as const;
          const gemm = {
            input,
            output: partial,
            weight,
            inShape,
            outShape,
            k,
            s,
            d,
            pad,
            inLayout,
          };
          e.emit(gemmConvKernel({ ...gemm, splitK: parts }, choice.tiles));
          e.emit(
            splitKReduceKernel({
              input: partial,
              output: y,
              parts,
              outShape,
              ...bias,
              ...epilogue,
              ...slice,
              outLayout,
              ...resLayout,
            }),
          );
        } else {
          // Depthwise (one input channel per group) with zero padding: the row-blocked kernel,
          // its outputs per thread chosen (kernelChoice); other grouped convs: the direct one.
          const operands = { ...conv, p: a.p, groups: a.g, padmode: a.padmode };
          e.emit(
            choice?.kernel === "depthwise"
              ? depthwiseConvKernel(operands, choice.run)
              : directConvKernel(operands),
          );
        }
      }
      return;
    }
    case "sepconv2d": {
      const a = node.attrs;
      const [dw, pw, b] = node.weights;
      const mid: Dims3 = [xs[0] * a.mult, ys[1], ys[2]];
      const t = e.temp("depthwise", mid[0] * mid[1] * mid[2]);
      e.emit(
        directConvKernel({
          input: x,
          output: t,
          weight: e.weight(dw!),
          inShape: xs,
          outShape: mid,
          k: a.k,
          s: a.s,
          d: a.d,
          p: a.p,
          groups: xs[0],
          padmode: a.padmode,
        }),
      );
      e.emit(
        gemmConvKernel(
          {
            input: t,
            output: y,
            weight: e.weight(pw!),
            ...(b === undefined ? {} : { bias: e.weight(b) }),
            inShape: mid,
            outShape: ys,
            k: [1, 1],
            s: [1, 1],
            d: [1, 1],
            pad: [0, 0],
          },
          defaultTiles,
        ),
      );
      return;
    }
    case "deconv2d": {
      const a = node.attrs;
      const [w, b] = node.weights;
      e.emit(
        deconvKernel({
          input: x,
          output: y,
          weight: e.weight(w!),
          ...(b === undefined ? {} : { bias: e.weight(b) }),
          inShape: xs,
          outShape: ys,
          k: a.k,
          s: a.s,
          d: a.d,
          p: a.p,
          groups: a.g,
        }),
      );
      return;
    }
    case "dense": {
      // A dense layer is a 1x1 conv over a 1x1 map; a weight over the binding limit runs as
      // several dispatches over row ranges (output units), each writing its slice.
      const [w, b] = node.weights;
      const units = node.attrs.units;
      const inputs = inShapes[0]?.[0] ?? 1;
      for (const chunk of e.splitRows(w!, units)) {
        if (e.choice?.kernel === "gemv") {
          e.emit(
            gemvKernel(
              {
                input: x,
                output: y,
                weight: chunk.name,
                ...(b === undefined ? {} : { bias: e.weight(b) }),
                inputs,
                units,
                channels: chunk.rows,
                ...epilogueOf(node),
              },
              e.choice.shape,
            ),
          );
          continue;
        }
        e.emit(
          gemmConvKernel(
            {
              input: x,
              output: y,
              weight: chunk.name,
              ...(b === undefined ? {} : { bias: e.weight(b) }),
              inShape: [inputs, 1, 1],
              outShape: [units, 1, 1],
              k: [1, 1],
              s: [1, 1],
              d: [1, 1],
              pad: [0, 0],
              channels: chunk.rows,
              ...epilogueOf(node),
            },
            e.choice?.kernel === "gemm" ? e.choice.tiles : defaultTiles,
          ),
        );
      }
      return;
    }
    case "maxpool2d":
    case "avgpool2d": {
      const a = node.attrs;
      const countPad = node.op === "avgpool2d" && node.attrs.count_pad;
      e.emit(
        poolKernel({
          input: x,
          output: y,
          kind: node.op === "maxpool2d" ? "max" : "avg",
          countPad,
          inShape: xs,
          outShape: ys,
          k: a.k,
          s: a.s,
          p: a.p,
          act: postActivation(node),
          inLayout: e.layout(x),
          outLayout: e.layout(y),
        }),
      );
      return;
    }
    case "globalavgpool":
    case "globalmaxpool":
      e.emit(
        globalPoolKernel(
          x,
          y,
          node.op === "globalmaxpool" ? "max" : "avg",
          xs,
          postActivation(node),
          e.layout(x),
        ),
      );
      return;
    case "batchnorm": {
      const [g, b, m, v] = node.weights.map((w) => e.weight(w));
      e.emit(
        batchNormKernel(
          x,
          y,
          [g!, b!, m!, v!],
          node.shape[0] ?? 1,
          perBatch / (node.shape[0] ?? 1),
          node.attrs.eps,
          postActivation(node),
          e.inPlace !== undefined,
          e.layout(y),
        ),
      );
      return;
    }
    case "relu":
    case "relu6":
    case "sigmoid":
    case "tanh":
    case "gelu":
    case "silu":
    case "hardswish":
    case "hardsigmoid":
      e.emit(activationKernel(x, y, perBatch, { op: node.op }, e.inPlace !== undefined));
      return;
    case "leaky_relu":
      e.emit(
        activationKernel(
          x,
          y,
          perBatch,
          { op: "leaky_relu", alpha: node.attrs.alpha },
          e.inPlace !== undefined,
        ),
      );
      return;
    case "softmax":
      e.emit(softmaxKernel(x, y, node.shape[0] ?? 1, perBatch / (node.shape[0] ?? 1)));
      return;
    case "add":
    case "mul":
      e.emit(
        broadcastKernel(
          node.op,
          node.inputs,
          inShapes,
          y,
          node.shape,
          postActivation(node),
          e.inPlace === undefined ? undefined : node.inputs.indexOf(e.inPlace),
        ),
      );
      return;
    case "concat": {
      // Inputs whose producer wrote into its slice already need no copy.
      let offset = 0;
      let channel = 0;
      node.inputs.forEach((v, k) => {
        const per = elementCount(inShapes[k]!);
        const inShape = dims3(inShapes[k]);
        const layouts = {
          inLayout: e.layout(v),
          outLayout: e.layout(y),
          inShape,
          slice: { channels: ys[0], offset: channel },
        };
        if (!slices.has(v)) e.emit(concatCopyKernel(v, y, per, perBatch, offset, layouts));
        offset += per;
        channel += inShape[0];
      });
      return;
    }
    case "upsample":
      e.emit(upsampleKernel(x, y, xs, ys, node.attrs.scale, node.attrs.mode));
      return;
    case "pad":
      e.emit(padKernel(x, y, xs, ys, node.attrs.p, node.attrs.mode, node.attrs.value));
      return;
    case "lrn":
      e.emit(lrnKernel(x, y, xs, node.attrs));
      return;
    case "flatten":
    case "dropout":
      return; // aliases, handled by the caller
  }
}
