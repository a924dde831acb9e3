// From IR to a dispatch plan. Selection first, for the whole graph: each layer's kernel choice
// (choice.ts), each value's layout (layout.ts), concat elimination and in-place operands;
// then each node's registry `emit` writes its kernels for what was chosen, through the
// Emitter below (weights, derived weights, temporaries). Every value gets a buffer (aliases
// share their input's); identical shaders are kept once; memory is planned last (memory.ts).
import { elementCount, valueShapes, type Graph, type Node, type Shape } from "../ir/graph.js";
import { inPlaceOperands } from "../analysis/memory.js";
import { opDef, type Emitter } from "../ops/index.js";
import { legalize } from "../ops/legalize.js";
import {
  candidates,
  choiceName,
  defaultChoice,
  quickChoice,
  readsLayout,
  tunable,
  type KernelChoice,
  type Target,
} from "./choice.js";
import type { Kernel, Plan, PlanDispatch, PlanValue } from "./plan-types.js";
import { CodegenError, PlanWeights } from "./weights.js";
import type { Layout, OutputSlice } from "./wgsl.js";
import { planMemory } from "./memory.js";
import { assignLayouts, layoutGroups } from "./layout.js";
import { shapeFamilies } from "./families.js";

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
  /** The adapter class whose default kernels to take where `choices` has none (default gpu). */
  readonly target?: Target;
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
  /**
   * Merge kernels that differ only in their sizes into one shader each, the sizes read from
   * the dispatch's uniform (families.ts): fewer shaders to compile at load. Default true.
   * "every size": every size that may vary read so, in a family of one too (cnnc tune's
   * candidates: one text, and one compile, for all layers of a kind).
   */
  readonly shapeFamilies?: boolean | "every size";
  /**
   * The plan for a quick start (a bundle's `quick` plan): every layer with a choice takes the
   * kernel quickest to compile (choice.ts `quickChoice`, ignoring `choices`), and every kernel
   * may join a shape family, so that a CPU emulation compiles few small shaders before the
   * first result. A CPU emulation's plan; its kernels are slower to run than the chosen ones.
   */
  readonly quick?: boolean;
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

export { CodegenError } from "./weights.js";

const defaultMaxBinding = 128 * 1024 * 1024;

export function planGraph(given: Graph, options: CodegenOptions = {}): Plan {
  // A no-op after the driver's passes; here for callers that plan a graph of their own.
  const graph = legalize(given).graph;
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
  const weights = new PlanWeights(graph, maxBinding);
  const kernels: string[] = [];
  const kernelIndex = new Map<string, number>();
  const dispatches: PlanDispatch[] = [];
  const familyKernels = new Set<number>(); // those that may share a shader (Kernel.shapeFamily)
  const subgroupKernels: Record<string, string> = {}; // Kernel.subgroups, by kernel index

  const emit = (label: string, k: Kernel): void => {
    let index = kernelIndex.get(k.wgsl);
    if (index === undefined) {
      index = kernels.length;
      kernels.push(k.wgsl);
      kernelIndex.set(k.wgsl, index);
      if (k.subgroups !== undefined) subgroupKernels[index] = k.subgroups;
      if (k.shapeFamily || options.quick) familyKernels.add(index);
    }
    dispatches.push({ label, kernel: index, bindings: k.bindings, grid: k.grid });
  };

  const slices = options.eliminateConcat
    ? concatSlices(graph)
    : new Map<string, { concat: string; slice: OutputSlice }>();
  const inPlaceOf = inPlaceOperands(graph, new Set(slices.keys()));
  const choices = new Map(
    graph.nodes.map((n) => [
      n.name,
      options.quick
        ? quickKernel(n, shapes.get(n.inputs[0]!))
        : kernelChoice(n, shapes.get(n.inputs[0]!), options.choices, options.target),
    ]),
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
    const def = opDef(node.op);
    if (typeof def.emit === "object") {
      throw new Error(`internal: '${node.op}' reached codegen; legalisation removes it`);
    }
    if (def.emit === "alias") {
      values.push({ name: node.name, perBatch: elementCount(node.shape), alias: node.inputs[0]! });
      continue;
    }
    const into = slices.get(node.name);
    const inPlace = allowInPlace && !into ? inPlaceOf.get(node.name) : undefined;
    const perBatch = elementCount(node.shape);
    if (inPlace !== undefined) {
      values.push({ name: node.name, perBatch, alias: inPlace, ...nhwc(node.name) });
    } else if (!into) values.push({ name: node.name, perBatch, ...nhwc(node.name) });
    const emitter: Emitter = {
      inShapes,
      output: into?.concat ?? node.name,
      ...(into ? { slice: into.slice } : {}),
      writtenInSlice: (v) => slices.has(v),
      target: options.target ?? "gpu",
      inPlace,
      choice: choices.get(node.name),
      layout: layoutOf,
      emit: (k) => emit(node.name, k),
      weight: (name) => weights.use(name),
      hwcWeight: (name) => weights.hwc(name),
      winogradWeight: (name) => weights.winograd(name),
      temp: (suffix, perBatch) => {
        const name = `${node.name}#${suffix}`;
        values.push({ name, perBatch });
        return name;
      },
      splitRows: (name, rows) => weights.splitRows(name, rows),
    };
    def.emit(node, emitter);
  }
  const outputs = graph.outputs.map((o) => ({
    name: o.name,
    value: o.value,
    shape: o.declared ?? shapes.get(o.value)!,
  }));
  const memory = planMemory(
    values,
    dispatches,
    graph.inputs.map((i) => i.name),
    outputs.map((o) => o.value),
    options.planMemory ?? false,
  );
  const merged =
    options.shapeFamilies === false
      ? { kernels, dispatches, subgroupKernels }
      : shapeFamilies(
          kernels,
          dispatches,
          (k) => familyKernels.has(k),
          subgroupKernels,
          options.shapeFamilies === "every size",
        );
  return {
    network: graph.name,
    inputs: graph.inputs.map((i) => ({ name: i.name, shape: i.shape })),
    outputs,
    values: values.map((v) => ({ ...v, offset: memory.offsets.get(v.name)! })),
    arena: memory.arena,
    weights: weights.list(),
    kernels: merged.kernels,
    ...(Object.keys(merged.subgroupKernels).length
      ? { subgroupKernels: merged.subgroupKernels }
      : {}),
    dispatches: merged.dispatches,
  };
}

/** The quick start's kernel of a layer with a choice. */
function quickKernel(node: Node, input: Shape | undefined): KernelChoice | undefined {
  return tunable(node, input) ? quickChoice(node, input) : undefined;
}

/** The kernel of a layer with a choice: the given one (checked to apply), else the default. */
function kernelChoice(
  node: Node,
  input: Shape | undefined,
  choices: ReadonlyMap<string, KernelChoice> | undefined,
  target: Target | undefined,
): KernelChoice | undefined {
  if (!tunable(node, input)) return undefined;
  const given = choices?.get(node.name);
  if (!given) return defaultChoice(node, input, target);
  const name = choiceName(given);
  if (!candidates(node, input, Infinity, true).some((c) => choiceName(c) === name)) {
    throw new CodegenError(`kernel '${name}' does not apply to layer '${node.name}' (${node.op})`);
  }
  return given;
}
