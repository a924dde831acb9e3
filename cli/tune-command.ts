// The `cnnc tune` command: build the network as `cnnc build` would, tune its GEMM layers on
// this machine's adapter, print what each layer gained, and write the tuned bundle.
import { performance } from "node:perf_hooks";
import {
  choiceName,
  type KernelChoice,
  type Layout,
  type Target,
} from "../compiler/codegen/index.js";
import { UserError } from "./common.js";
import { Model, PipelineCache } from "../runtime/index.js";
import { nodeDevice, type AdapterChoice } from "../runtime/node-device.js";
import { buildGraph } from "./build.js";
import { writeOutput } from "./output.js";
import { positiveInt, sourceGraph, type Io } from "./common.js";
import type { OptimizeOptions } from "./optimize.js";
import { tuneGraph, tuningNames, type TunedLayer } from "../compiler/tune.js";
import type { LayerFeatures, TuningData } from "../compiler/codegen/cost-model.js";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { compileAhead } from "./tune-ahead.js";

export interface TuneCliOptions extends OptimizeOptions {
  readonly output?: string;
  readonly weights?: string;
  readonly seed?: string;
  readonly runs?: string;
  readonly batch?: string;
  readonly verbose?: boolean;
  readonly kernels?: string;
  readonly exhaustive?: boolean;
  readonly record?: string;
  readonly adapter?: string;
  readonly layout?: Layout;
  readonly network?: string;
  readonly useRoot?: string;
  /** --f16: the tuned bundle (and the untuned one it is compared with) stores f16 weights. */
  readonly f16?: boolean;
}

export const kernelFamilies: readonly KernelChoice["kernel"][] = [
  "gemm",
  "splitk",
  "winograd",
  "pointwise",
  "blocked",
  "depthwise",
  "gemv",
];

/** `--kernels gemm,blocked`: the families to measure; all when absent. */
export function familyFilter(list: string | undefined): ((c: KernelChoice) => boolean) | undefined {
  if (list === undefined) return undefined;
  const names = list.split(",").map((s) => s.trim());
  const unknown = names.filter((n) => !(kernelFamilies as readonly string[]).includes(n));
  if (unknown.length || !names.length)
    throw new UserError(
      `--kernels: unknown kernel famil${unknown.length > 1 ? "ies" : "y"} ${unknown.map((n) => `'${n}'`).join(", ")}; the families are ${kernelFamilies.join(", ")}`,
    );
  return (c) => names.includes(c.kernel);
}

/** A loaded bundle's inputs (0.5 everywhere) for timing. */
function constantInputs(model: Model, batch: number): Record<string, Float32Array> {
  return Object.fromEntries(
    model.manifest.inputs.map((i) => [
      i.name,
      new Float32Array(batch * i.shape.reduce((a, b) => a * b, 1)).fill(0.5),
    ]),
  );
}

export const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** One-sided sign test: the chance of `wins` or more of `n` fair coin flips. */
function signTest(wins: number, n: number): number {
  let p = 0;
  let choose = 1; // C(n, k), from k = 0
  for (let k = 0; k <= n; k++) {
    if (k >= wins) p += choose / 2 ** n;
    choose = (choose * (n - k)) / (k + 1);
  }
  return p;
}

export interface Verdict {
  /** Median over the pairs of untuned / tuned GPU time: above 1, tuned is faster. */
  readonly speedup: number;
  /** Pairs in which the tuned bundle was faster, of all pairs. */
  readonly wins: number;
  readonly pairs: number;
  /** The sign test's one-sided p-value for "tuned is faster". */
  readonly p: number;
  /** Write the tuned bundle: faster in the median pair and in most pairs. */
  readonly keepTuned: boolean;
}

/** What alternating measurements ([untuned ms, tuned ms] pairs) say of the tuned bundle. */
export function verdict(pairs: readonly (readonly [number, number])[]): Verdict {
  const ratios = pairs.map(([untuned, tuned]) => untuned / tuned);
  const wins = ratios.filter((r) => r > 1).length;
  const speedup = median(ratios);
  return {
    speedup,
    wins,
    pairs: pairs.length,
    p: signTest(wins, pairs.length),
    keepTuned: speedup > 1 && wins * 2 > pairs.length,
  };
}

/**
 * Whether `wins` of `done` pairs settle the verdict of `planned` pairs: the tuned bundle is
 * kept when it wins most pairs and the median pair, which for the median of an odd count is
 * the same thing, so once most of the planned pairs are won, or so many lost that most can no
 * longer be won, the pairs left could not change it.
 */
export function settled(wins: number, done: number, planned: number): boolean {
  const most = Math.floor(planned / 2) + 1;
  return wins >= most || done - wins > planned - most;
}

/**
 * The whole network, untuned and tuned, GPU time measured alternately (up to `pairs` pairs,
 * each measurement repeated to last about 50 ms, so that a drift of the machine's load falls
 * on both; fewer where the first settle the verdict), and each one's round trip (upload, run,
 * readback), median of `runs`.
 */
async function compare(
  untunedBytes: Uint8Array,
  tunedBytes: Uint8Array,
  device: GPUDevice,
  runs: number,
  pairs: number,
  batch: number,
  pipelines: PipelineCache,
): Promise<{ pairs: [number, number][]; roundTrip: [number, number] }> {
  // (each bundle's own kernels: a quick start would only add compiling; the kernels the two
  // share, and those the measuring of layers compiled, compiled once)
  const own = { quickStart: false, pipelines };
  const models = [
    await Model.create(untunedBytes, device, undefined, undefined, own),
    await Model.create(tunedBytes, device, undefined, undefined, own),
  ];
  try {
    const inputs = models.map((m) => constantInputs(m, batch));
    const roundTrip = [0, 0] as [number, number];
    const repeats = [1, 1];
    for (const k of [0, 1]) {
      await models[k]!.run(inputs[k]!, { batch }); // (warm-up)
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await models[k]!.run(inputs[k]!, { batch });
        times.push(performance.now() - t0);
      }
      roundTrip[k] = median(times);
      // (a round trip takes the GPU time and more: repeats to last about 50 ms at most)
      const once = Math.min(...times);
      repeats[k] = Math.min(10, Math.max(1, Math.ceil(50 / Math.max(once, 1e-3))));
    }
    const measured: [number, number][] = [];
    for (let i = 0; i < pairs; i++) {
      // Alternate which goes first: a trend in the machine's load then favours neither.
      const order = i % 2 ? [1, 0] : [0, 1];
      const t = [0, 0];
      for (const k of order) t[k] = await models[k]!.measure({ batch, repeats: repeats[k]! });
      measured.push([t[0]!, t[1]!]);
      const wins = measured.filter(([untuned, tuned]) => untuned / tuned > 1).length;
      if (settled(wins, measured.length, pairs)) break;
    }
    return { pairs: measured, roundTrip };
  } finally {
    for (const m of models) m.dispose();
  }
}

/**
 * Adds the measured layers to a cost model's data file (compiler/codegen/cost-model.ts), made
 * when absent; a layer measured before with the same features is replaced.
 */
function record(file: string, adapter: string, network: string, report: readonly TunedLayer[]) {
  const data = recorded(file) ?? { adapter, layers: [] };
  const key = (f: LayerFeatures): string =>
    JSON.stringify([f.kind, f.c, f.h, f.w, f.f, f.ho, f.wo, f.k, f.s, f.d, f.batch]);
  const layers = new Map(data.layers.map((l) => [key(l), l]));
  for (const r of report) {
    if (!r.features) continue;
    const ms = Object.fromEntries(r.timings.map((t) => [t.kernel, Number(t.ms.toPrecision(4))]));
    const old = layers.get(key(r.features));
    // layers of one shape reading different layouts report twice: keep both's timings
    layers.set(key(r.features), { ...r.features, network, ms: { ...old?.ms, ...ms } });
  }
  const out = { adapter, layers: [...layers.values()] };
  writeFileSync(file, JSON.stringify(out, null, 1) + "\n");
}

/** A data file's measurements (undefined when there is no file yet); read before tuning too. */
function recorded(file: string): TuningData | undefined {
  if (!existsSync(file)) return undefined;
  let data: TuningData;
  try {
    data = JSON.parse(readFileSync(file, "utf8")) as TuningData;
  } catch (e) {
    throw new UserError(`--record ${file}: not a tuning data file (${(e as Error).message})`);
  }
  if (typeof data !== "object" || data === null || !Array.isArray(data.layers))
    throw new UserError(`--record ${file}: not a tuning data file (no 'layers' list)`);
  return data;
}

/** Three significant digits at least: a layer takes microseconds on a GPU, seconds on a CPU. */
function ms(x: number): string {
  return x >= 100 ? x.toFixed(1) : x.toPrecision(3);
}

export async function tuneCommand(io: Io, file: string, o: TuneCliOptions): Promise<void> {
  const graph = sourceGraph(io, file, o);
  const runs = positiveInt(o.runs ?? "3", "--runs");
  const batch = positiveInt(o.batch ?? "1", "--batch");
  const filter = familyFilter(o.kernels);
  if (o.record) recorded(o.record); // a file that is not tuning data fails now, not after tuning
  const gpu = await nodeDevice((o.adapter ?? process.env.CNNC_ADAPTER ?? "auto") as AdapterChoice);
  // The untuned bundle, compared with the tuned one at the end: this adapter class's defaults.
  const target: Target = gpu.kind === "gpu" ? "gpu" : "cpu";
  const built = buildGraph(io, graph, { ...o, target });
  io.out(`tuning ${graph.name} on ${gpu.adapter} at batch ${batch}\n`);
  // Every kernel compiled once: candidates the same for several layers, and the networks
  // compared at the end (a CPU emulation compiles for most of a second a kernel)
  const pipelines = new PipelineCache(gpu.device);
  const load = (b: Uint8Array) => Model.create(b, gpu.device, undefined, undefined, { pipelines });
  const ahead = compileAhead(gpu, {
    graph: built.graph,
    batch,
    target,
    untuned: built.bytes,
    exhaustive: !!(o.exhaustive || o.record),
    ...(o.layout ? { layout: o.layout } : {}),
    ...(o.kernels ? { kernels: o.kernels } : {}),
  });
  try {
    const { choices, report } = await tuneGraph(built.graph, load, {
      runs,
      batch,
      target,
      exhaustive: !!(o.exhaustive || o.record),
      ...(filter ? { filter } : {}),
      ...(o.layout ? { layout: o.layout } : {}),
      ...(ahead ? { ahead } : {}),
      ...(io.progress
        ? {
            onProgress: (done: number, total: number, layer: string) =>
              io.progress!.update("tuning: candidates measured", done, total, layer),
          }
        : {}),
    });
    io.progress?.done();
    await ahead?.finish(); // (nothing compiles elsewhere while the networks are timed)
    if (ahead && o.verbose)
      io.out(
        `compiled ahead: ${ahead.counts.helper} of the ${ahead.counts.asked} candidates measured by a helper process on another core, ${ahead.counts.whileWaiting} here while it compiled${ahead.stopped ? ` (helper stopped: ${ahead.stopped})` : ""}\n`,
      );
    if (o.record) record(o.record, gpu.adapter, graph.name, report);
    const width = Math.max(5, ...report.map((r) => r.shape.length));
    io.out(
      `GPU time per layer (no upload or readback), median of ${runs}; tried: candidates measured of all (${o.exhaustive || o.record ? "--exhaustive" : "in the cost model's order until two in a row were no faster"})\n`,
    );
    io.out(`${"layer shape".padEnd(width)}  layers  tried  default ms  best ms  kernel\n`);
    for (const r of report) {
      const tried = `${r.timings.length + r.rejected.length}/${r.timings.length + r.rejected.length + r.skipped}`;
      io.out(
        `${r.shape.padEnd(width)}  ${String(r.layers.length).padStart(6)}  ${tried.padStart(5)}  ${ms(r.defaultMs).padStart(10)}  ${ms(r.bestMs).padStart(7)}  ${choiceName(r.best)}${r.rejected.length ? ` (rejected, wrong results: ${r.rejected.join(", ")})` : ""}\n`,
      );
      if (o.verbose) {
        for (const t of r.timings) io.out(`    ${ms(t.ms).padStart(10)} ms  ${t.kernel}\n`);
      }
    }
    const bytes = buildGraph(
      io,
      graph,
      { ...o, target },
      {
        choices,
        tuning: { adapter: gpu.adapter, layers: tuningNames(choices) },
      },
    ).bytes;
    // The whole network, both ways: a tuned bundle that is not faster is not written.
    const pairs = Math.max(9, 2 * runs + 1);
    const measured = await compare(built.bytes, bytes, gpu.device, runs, pairs, batch, pipelines);
    const v = verdict(measured.pairs);
    const gpuTime = [
      median(measured.pairs.map((p) => p[0])),
      median(measured.pairs.map((p) => p[1])),
    ];
    const out = o.output ?? `${graph.name}.tuned.cnnb`;
    writeOutput(out, v.keepTuned ? bytes : built.bytes, [file, ...(o.weights ? [o.weights] : [])]);
    const line = (what: string, x: number, y: number) =>
      `${what}: ${ms(x)} ms untuned, ${ms(y)} ms tuned (${(x / y).toFixed(2)}x)\n`;
    io.out(
      `whole network at batch ${batch}: GPU time alternately, ${v.pairs} pairs${v.pairs < pairs ? ` (of up to ${pairs}: the rest could not change the verdict)` : ""}; round trip median of ${runs}\n` +
        line("  GPU time", gpuTime[0]!, gpuTime[1]!) +
        line("  round trip (upload, run, readback)", measured.roundTrip[0], measured.roundTrip[1]) +
        `  tuned faster in ${v.wins} of ${v.pairs} pairs, median ${v.speedup.toFixed(2)}x (sign test p = ${v.p < 0.001 ? v.p.toExponential(1) : v.p.toFixed(3)})\n` +
        (v.keepTuned
          ? `wrote ${out}\n`
          : `wrote ${out} untuned: the tuned kernels were not faster on the whole network here\n`),
    );
  } finally {
    ahead?.close();
  }
  gpu.device.destroy();
}
