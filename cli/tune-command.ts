// The `cnnc tune` command: build the network as `cnnc build` would, tune its GEMM layers on
// this machine's adapter, print what each layer gained, and write the tuned bundle.
import { performance } from "node:perf_hooks";
import { choiceName, type Layout } from "../compiler/codegen/index.js";
import { Model } from "../runtime/index.js";
import { nodeDevice, type AdapterChoice } from "../runtime/node-device.js";
import { buildGraph } from "./build.js";
import { writeOutput } from "./output.js";
import { positiveInt, sourceGraph, type Io } from "./common.js";
import type { OptimizeOptions } from "./optimize.js";
import { tuneGraph, tuningNames } from "../compiler/tune.js";

export interface TuneCliOptions extends OptimizeOptions {
  readonly output?: string;
  readonly weights?: string;
  readonly seed?: string;
  readonly runs?: string;
  readonly batch?: string;
  readonly verbose?: boolean;
  readonly adapter?: string;
  readonly layout?: Layout;
  readonly network?: string;
  readonly useRoot?: string;
}

/** The whole network's round trip (upload, run, readback) and GPU time, medians of `runs`. */
async function latency(
  bytes: Uint8Array,
  device: GPUDevice,
  runs: number,
  batch: number,
): Promise<{ roundTrip: number; gpu: number }> {
  const model = await Model.create(bytes, device);
  try {
    const inputs = Object.fromEntries(
      model.manifest.inputs.map((i) => [
        i.name,
        new Float32Array(batch * i.shape.reduce((a, b) => a * b, 1)).fill(0.5),
      ]),
    );
    await model.run(inputs, { batch });
    const times: number[] = [];
    const gpu: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await model.run(inputs, { batch });
      times.push(performance.now() - t0);
      gpu.push(await model.measure({ batch, repeats: 10 }));
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return { roundTrip: median(times), gpu: median(gpu) };
  } finally {
    model.dispose();
  }
}

/** Three significant digits at least: a layer takes microseconds on a GPU, seconds on a CPU. */
function ms(x: number): string {
  return x >= 100 ? x.toFixed(1) : x.toPrecision(3);
}

export async function tuneCommand(io: Io, file: string, o: TuneCliOptions): Promise<void> {
  const graph = sourceGraph(io, file, o);
  const runs = positiveInt(o.runs ?? "3", "--runs");
  const batch = positiveInt(o.batch ?? "1", "--batch");
  const built = buildGraph(io, graph, o);
  const gpu = await nodeDevice((o.adapter ?? process.env.CNNC_ADAPTER ?? "auto") as AdapterChoice);
  io.out(`tuning ${graph.name} on ${gpu.adapter} at batch ${batch}\n`);
  const { choices, report } = await tuneGraph(built.graph, (b) => Model.create(b, gpu.device), {
    runs,
    batch,
    ...(o.layout ? { layout: o.layout } : {}),
    ...(io.progress
      ? {
          onProgress: (done: number, total: number, layer: string) =>
            io.progress!.update("tuning: candidates measured", done, total, layer),
        }
      : {}),
  });
  io.progress?.done();
  const width = Math.max(5, ...report.map((r) => r.shape.length));
  io.out(`GPU time per layer (no upload or readback), median of ${runs}\n`);
  io.out(`${"layer shape".padEnd(width)}  layers  default ms  best ms  kernel\n`);
  for (const r of report) {
    io.out(
      `${r.shape.padEnd(width)}  ${String(r.layers.length).padStart(6)}  ${ms(r.defaultMs).padStart(10)}  ${ms(r.bestMs).padStart(7)}  ${choiceName(r.best)}${r.rejected.length ? ` (rejected, wrong results: ${r.rejected.join(", ")})` : ""}\n`,
    );
    if (o.verbose) {
      for (const t of r.timings) io.out(`    ${ms(t.ms).padStart(10)} ms  ${t.kernel}\n`);
    }
  }
  const bytes = buildGraph(io, graph, o, {
    choices,
    tuning: { adapter: gpu.adapter, layers: tuningNames(choices) },
  }).bytes;
  const before = await latency(built.bytes, gpu.device, runs, batch);
  const after = await latency(bytes, gpu.device, runs, batch);
  const out = o.output ?? `${graph.name}.tuned.cnnb`;
  writeOutput(out, bytes, [file, ...(o.weights ? [o.weights] : [])]);
  const line = (what: string, x: number, y: number) =>
    `${what}: ${ms(x)} ms untuned, ${ms(y)} ms tuned (${(x / y).toFixed(2)}x)\n`;
  io.out(
    `whole network at batch ${batch}, median of ${runs}\n` +
      line("  GPU time", before.gpu, after.gpu) +
      line("  round trip (upload, run, readback)", before.roundTrip, after.roundTrip) +
      `wrote ${out}\n`,
  );
  gpu.device.destroy();
}
