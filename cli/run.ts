// `cnnc run`: a bundle (or a .cnn, built in memory) on WebGPU, or on the CPU reference
// interpreter with --cpu. Inputs from .npy files or random; prints the top outputs, the
// adapter, and with --bench the latency and where it goes (upload, GPU work, readback).
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { interpret } from "../compiler/interp/index.js";
import type { Graph } from "../compiler/ir/index.js";
import { random } from "../compiler/weights/index.js";
import { bundleReference } from "../compiler/bundle/index.js";
import type { Target } from "../compiler/codegen/index.js";
import { gpuPresent } from "../runtime/node-device.js";
import {
  maxRepeats,
  nonFinite,
  BundleError,
  loadModel,
  parseBundle,
  type Model,
  type Manifest,
} from "../runtime/index.js";
import { buildGraph } from "./build.js";
import { writeOutput } from "./output.js";
import {
  note,
  positiveInt,
  seed,
  sourceGraph,
  UserError,
  type Io,
  type ModelFlags,
} from "./common.js";
import { NpyError, readNpy, writeNpy } from "./npy.js";
import type { OptimizeOptions } from "./optimize.js";

export interface RunOptions extends OptimizeOptions, ModelFlags {
  readonly input: readonly string[];
  readonly batch?: string;
  readonly cpu?: boolean;
  readonly output?: string;
  readonly bench?: string;
  readonly adapter?: string;
  readonly seed?: string;
  readonly weights?: string;
  readonly network?: string;
  readonly useRoot?: string;
  readonly top?: string;
}

interface Loaded {
  readonly bytes: Uint8Array;
  readonly manifest: Manifest;
  /** For --cpu: the graph and its weights. */
  cpu(): { graph: Graph; weights: Map<string, Float32Array> };
}

/** The shapes of the .npy files among --input (by input name; "" for an unnamed one), read
 * from their headers: an .onnx with dynamic dimensions compiles for them. Unreadable files are
 * left to the input check, which says why. */
function npyShapes(specs: readonly string[]): Map<string, readonly number[]> {
  const shapes = new Map<string, readonly number[]>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const path = eq > 0 ? spec.slice(eq + 1) : spec;
    if (path === "random") continue;
    try {
      shapes.set(eq > 0 ? spec.slice(0, eq) : "", readNpy(readFileSync(path), path).shape);
    } catch {
      // (reported by inputs())
    }
  }
  return shapes;
}

/** The adapter class `run` will use: what --adapter (or CNNC_ADAPTER) says, else the machine's. */
function targetOf(o: RunOptions): Target {
  const adapter = o.adapter ?? process.env.CNNC_ADAPTER ?? "auto";
  if (adapter === "llvmpipe" || adapter === "swiftshader") return "cpu";
  return adapter === "gpu" || gpuPresent() ? "gpu" : "cpu";
}

function load(io: Io, file: string, o: RunOptions): Loaded {
  if (file.endsWith(".cnn") || file.endsWith(".onnx")) {
    const graph = sourceGraph(io, file, { ...o, shapeHints: npyShapes(o.input) });
    // (an .onnx brings its weights; a .cnn has them from --weights, or made up)
    if (file.endsWith(".cnn") && !o.weights && graph.weights.length > 0)
      note(
        io,
        `no --weights: ${graph.name} runs with generated weights (--seed ${seed(o.seed)}), not trained ones`,
      );
    // Built for the adapter it will run on: a CPU emulation's default kernels differ.
    const { bytes } = buildGraph(io, graph, { ...o, target: targetOf(o) });
    const parsed = parseBundle(bytes);
    // --cpu runs what the bundle holds, as for a .cnnb: one path for both.
    return { bytes, manifest: parsed.manifest, cpu: () => bundleReference(parsed) };
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new UserError(`cannot read '${file}'`);
  }
  const { manifest, blob } = parseBundle(bytes);
  return {
    bytes,
    manifest,
    cpu: () => bundleReference({ manifest, blob }, `'${file}'`),
  };
}

/** The largest random input `--input random` makes. */
const maxRandomInputBytes = 2 ** 30;

function inputs(
  manifest: Manifest,
  specs: readonly string[],
  batchOption: string | undefined,
  seed: number,
): { batch: number; data: Record<string, Float32Array> } {
  if (specs.length === 0)
    throw new UserError("give --input: 'random', a .npy file, or name=file.npy for each input");
  let batch = batchOption === undefined ? undefined : positiveInt(batchOption, "--batch");
  const data: Record<string, Float32Array> = {};
  const named = new Map<string, string>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    if (eq <= 0 && manifest.inputs.length !== 1)
      throw new UserError(
        `the model has ${manifest.inputs.length} inputs; name each: --input ${manifest.inputs.map((i) => `${i.name}=...`).join(" --input ")}`,
      );
    const name = eq > 0 ? spec.slice(0, eq) : manifest.inputs[0]!.name;
    if (named.has(name)) throw new UserError(`--input gives '${name}' twice`);
    named.set(name, eq > 0 ? spec.slice(eq + 1) : spec);
  }
  for (const name of named.keys()) {
    if (!manifest.inputs.some((i) => i.name === name))
      throw new UserError(
        `the model has no input '${name}'; its inputs: ${manifest.inputs.map((i) => i.name).join(", ")}`,
      );
  }
  const files = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const i of manifest.inputs) {
    const spec = named.get(i.name);
    if (spec === undefined) throw new UserError(`no --input for '${i.name}'`);
    if (spec === "random") continue;
    let array;
    try {
      array = readNpy(readFileSync(spec), spec);
    } catch (e) {
      if (e instanceof NpyError) throw new UserError(e.message);
      throw new UserError(`cannot read '${spec}'`);
    }
    // The input's shape, or ONNX's for it: [N, C, L] data runs as [N, C, 1, L], the same
    // values in the same order (dimensions of size 1 aside).
    const squeezed = (s: readonly number[]) => s.filter((d) => d !== 1).join(",");
    const onnxForm =
      i.shape.length === 3 && i.shape[1] === 1 ? [i.shape[0]!, i.shape[2]!] : i.shape;
    const rank = array.shape.length === onnxForm.length + 1 ? onnxForm.length : i.shape.length;
    const unbatched = array.shape.length === rank;
    const fileBatch = unbatched ? 1 : array.shape[0]!;
    const sample = unbatched ? array.shape : array.shape.slice(1);
    if (
      sample.length !== rank ||
      squeezed(sample) !== squeezed(i.shape) ||
      sample.reduce((a, b) => a * b, 1) !== i.shape.reduce((a, b) => a * b, 1) ||
      (batch !== undefined && fileBatch !== batch)
    ) {
      throw new UserError(
        `input '${i.name}' expects shape [${[batch ?? "N", ...i.shape].join(", ")}]; '${spec}' is (${array.shape.join(", ")})`,
      );
    }
    batch = fileBatch;
    files.set(i.name, array);
  }
  batch ??= 1;
  // Random inputs are generated only within a sane size: the device's limits come later.
  for (const i of manifest.inputs) {
    const bytes = 4 * batch * i.shape.reduce((a, b) => a * b, 1);
    if (!files.has(i.name) && bytes > maxRandomInputBytes)
      throw new UserError(
        `--batch ${batch}: a random input '${i.name}' would take ${(bytes / 2 ** 30).toFixed(1)} GiB; cnnc makes at most ${maxRandomInputBytes / 2 ** 30} GiB`,
      );
  }
  const rand = random(seed);
  for (const i of manifest.inputs) {
    const count = batch * i.shape.reduce((a, b) => a * b, 1);
    data[i.name] =
      files.get(i.name)?.data ?? Float32Array.from({ length: count }, () => rand() * 2 - 1);
  }
  return { batch, data };
}

function describeOutput(
  name: string,
  shape: readonly number[],
  batch: number,
  data: ArrayLike<number>,
  top: number,
): string {
  const per = shape.reduce((a, b) => a * b, 1);
  const lines = [`output ${name} [${[batch, ...shape].join(", ")}]`];
  for (let n = 0; n < batch; n++) {
    const sample = Array.from({ length: per }, (_, i) => data[n * per + i]!);
    if (shape.length === 1) {
      const best = sample
        .map((v, i) => [i, v] as const)
        .sort((a, b) => b[1] - a[1])
        .slice(0, top);
      lines.push(
        `  sample ${n}: top ${best.length}: ${best.map(([i, v]) => `${i} (${v.toPrecision(4)})`).join(", ")}`,
      );
    } else {
      // A loop, not Math.min(...sample): spreading a large map's values overflows the stack.
      let [min, max, sum] = [Infinity, -Infinity, 0];
      for (const v of sample) {
        min = Math.min(min, v);
        max = Math.max(max, v);
        sum += v;
      }
      lines.push(
        `  sample ${n}: min ${min.toPrecision(4)}, max ${max.toPrecision(4)}, mean ${(sum / per).toPrecision(4)}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** Median and minimum of `runs` timings of `f`, in milliseconds. */
async function timed(
  runs: number,
  f: () => Promise<unknown>,
  onRun?: (done: number, total: number) => void,
): Promise<[number, number]> {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
    onRun?.(r + 1, runs);
  }
  times.sort((a, b) => a - b);
  return [times[Math.floor(runs / 2)]!, times[0]!];
}

/**
 * `--bench`: the round trip as an app pays it (upload, GPU work, readback), then where the
 * time goes: the same with the input already on the GPU (Model.run takes GPU buffers), and
 * the GPU work alone (Model.measure).
 */
async function benchLines(
  io: Io,
  model: Model,
  data: Record<string, Float32Array>,
  batch: number,
  runs: number,
): Promise<string> {
  const ms = (t: number): string => t.toFixed(2);
  const step = (what: string) => (done: number, total: number) =>
    io.progress?.update(what, done, total);
  await model.ready; // (the bundle's own kernels, not its quick start's)
  const [median, min] = await timed(runs, () => model.run(data, { batch }), step("bench runs"));
  const device = model.device;
  const onGpu = Object.fromEntries(
    Object.entries(data).map(([name, values]) => {
      const buffer = device.createBuffer({
        label: `bench ${name}`,
        size: values.byteLength,
        usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(buffer, 0, values);
      return [name, buffer];
    }),
  );
  try {
    const [gpuMedian] = await timed(
      runs,
      () => model.run(onGpu, { batch }),
      step("bench runs, input on the GPU"),
    );
    io.progress?.done();
    const work = await model.measure({ batch, repeats: Math.min(runs, maxRepeats) });
    return (
      `latency: median ${ms(median)} ms, min ${ms(min)} ms over ${runs} runs (batch ${batch}, readback included)\n` +
      `  with the input already on the GPU: median ${ms(gpuMedian)} ms; GPU work alone: ${ms(work)} ms\n`
    );
  } finally {
    for (const b of Object.values(onGpu)) b.destroy();
  }
}

/** --output: which output goes to which file (`name=file`, or the first output). */
function outputTarget(manifest: Manifest, spec: string) {
  const eq = spec.indexOf("=");
  const name = eq > 0 ? spec.slice(0, eq) : manifest.outputs[0]!.name;
  const out = manifest.outputs.find((x) => x.name === name);
  if (!out) throw new UserError(`the model has no output '${name}'`);
  return { name, path: eq > 0 ? spec.slice(eq + 1) : spec, out };
}

export async function runCommand(io: Io, file: string, o: RunOptions): Promise<void> {
  // Every flag checked before anything is loaded or run.
  if (o.cpu && o.bench !== undefined)
    throw new UserError("--bench times WebGPU runs; --cpu runs the reference interpreter once");
  const runs = o.bench === undefined ? undefined : positiveInt(o.bench, "--bench");
  const top = o.top === undefined ? 5 : positiveInt(o.top, "--top");
  const seedValue = seed(o.seed);
  let loaded: Loaded;
  try {
    loaded = load(io, file, o);
  } catch (e) {
    if (e instanceof BundleError) throw new UserError(`${file}: ${e.message}`);
    throw e;
  }
  const { manifest } = loaded;
  const { batch, data } = inputs(manifest, o.input, o.batch, seedValue);
  const written = o.output === undefined ? undefined : outputTarget(manifest, o.output);
  let outputs: Record<string, ArrayLike<number>>;
  // NaN or Inf anywhere makes the results meaningless, and a GPU hides it (max(NaN, 0) is 0
  // there): say so, for the inputs, the weights and the outputs.
  const warnNonFinite = (what: string, values: ArrayLike<number>): void => {
    const n = nonFinite(values);
    if (n > 0)
      io.err(`cnnc: warning: ${what} has ${n} NaN or infinite value${n === 1 ? "" : "s"}\n`);
  };
  for (const [name, values] of Object.entries(data)) warnNonFinite(`input '${name}'`, values);
  if (o.cpu) {
    const { graph, weights } = loaded.cpu();
    for (const [name, values] of weights) warnNonFinite(`weight '${name}'`, values);
    const t0 = performance.now();
    const result = interpret(graph, weights, data, batch);
    io.out(
      `adapter: CPU reference interpreter (float64), ${(performance.now() - t0).toFixed(1)} ms\n`,
    );
    outputs = Object.fromEntries(result);
  } else {
    const adapter = (o.adapter ?? process.env.CNNC_ADAPTER ?? "auto") as
      "auto" | "gpu" | "llvmpipe" | "swiftshader";
    let model;
    try {
      model = await loadModel(loaded.bytes, {
        adapter,
        ...(io.progress
          ? {
              onCompiled: (done: number, total: number, layer: string) =>
                io.progress!.update("compiling pipelines", done, total, layer),
            }
          : {}),
      });
      io.progress?.done();
    } catch (e) {
      if (e instanceof BundleError) throw new UserError(`${file}: ${e.message}`);
      throw e; // a RuntimeError is the device's (exit 1); anything else a bug (exit 2)
    }
    try {
      io.out(`adapter: ${model.adapterName}\n`);
      for (const [name, n] of Object.entries(model.info.nonFiniteWeights))
        io.err(
          `cnnc: warning: weight '${name}' has ${n} NaN or infinite value${n === 1 ? "" : "s"}\n`,
        );
      outputs = Object.fromEntries(
        Object.entries(await model.run(data, { batch })).map(([k, t]) => [k, t.data]),
      );
      if (runs !== undefined) io.out(await benchLines(io, model, data, batch, runs));
    } finally {
      model.dispose();
    }
  }
  for (const out of manifest.outputs) warnNonFinite(`output '${out.name}'`, outputs[out.name]!);
  for (const out of manifest.outputs)
    io.out(describeOutput(out.name, out.shape, batch, outputs[out.name]!, top));
  if (written) {
    const { name, path, out } = written;
    const inputFiles = [
      file,
      ...o.input.map((i) => i.slice(i.indexOf("=") + 1)),
      ...(o.weights ? [o.weights] : []),
    ];
    writeOutput(
      path,
      writeNpy([batch, ...out.shape], Float32Array.from(outputs[name]!)),
      inputFiles,
    );
    io.out(`wrote ${path}\n`);
  }
}
