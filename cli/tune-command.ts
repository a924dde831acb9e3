// The `cnnc tune` command: build the network as `cnnc build` would, tune its GEMM layers on
// this machine's adapter, print what each layer gained, and write the tuned bundle.
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { choiceName } from "../compiler/codegen/index.js";
import { Model } from "../runtime/index.js";
import { nodeDevice, type AdapterChoice } from "../runtime/node-device.js";
import { buildGraph } from "./build.js";
import { positiveInt, sourceGraph, type Io } from "./common.js";
import { eliminatesConcat, optimize, plansMemory, type OptimizeOptions } from "./optimize.js";
import { tunedBundle, tuneGraph } from "./tune.js";

export interface TuneCliOptions extends OptimizeOptions {
  readonly output?: string;
  readonly weights?: string;
  readonly seed?: string;
  readonly runs?: string;
  readonly batch?: string;
  readonly verbose?: boolean;
  readonly adapter?: string;
  readonly network?: string;
}

async function latency(
  bytes: Uint8Array,
  device: GPUDevice,
  runs: number,
  batch: number,
): Promise<number> {
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
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await model.run(inputs, { batch });
      times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  } finally {
    model.dispose();
  }
}

export async function tuneCommand(io: Io, file: string, o: TuneCliOptions): Promise<void> {
  const graph = sourceGraph(io, file, o.network);
  const runs = positiveInt(o.runs ?? "3", "--runs");
  const batch = positiveInt(o.batch ?? "1", "--batch");
  const options = {
    ...(o.weights ? { weights: o.weights } : {}),
    seed: Number(o.seed ?? 0),
    planMemory: plansMemory(o),
    eliminateConcat: eliminatesConcat(o),
  };
  const built = buildGraph(graph, options, (g) => optimize(io, g, o));
  const gpu = await nodeDevice((o.adapter ?? process.env.CNNC_ADAPTER ?? "auto") as AdapterChoice);
  io.out(`tuning ${graph.name} on ${gpu.adapter} at batch ${batch}\n`);
  const { choices, report } = await tuneGraph(built.graph, gpu.device, { runs, batch });
  const width = Math.max(5, ...report.map((r) => r.shape.length));
  io.out(`${"layer shape".padEnd(width)}  layers  default ms  best ms  kernel\n`);
  for (const r of report) {
    io.out(
      `${r.shape.padEnd(width)}  ${String(r.layers.length).padStart(6)}  ${r.defaultMs.toFixed(2).padStart(10)}  ${r.bestMs.toFixed(2).padStart(7)}  ${choiceName(r.best)}${r.rejected.length ? ` (rejected, wrong results: ${r.rejected.join(", ")})` : ""}\n`,
    );
    if (o.verbose) {
      for (const t of r.timings) io.out(`    ${t.ms.toFixed(2).padStart(10)} ms  ${t.kernel}\n`);
    }
  }
  const bytes = tunedBundle(built.graph, choices, gpu.adapter, options);
  const before = await latency(built.bytes, gpu.device, runs, batch);
  const after = await latency(bytes, gpu.device, runs, batch);
  const out = o.output ?? `${graph.name}.tuned.cnnb`;
  writeFileSync(out, bytes);
  io.out(
    `whole network at batch ${batch}, median of ${runs}: ${before.toFixed(1)} ms untuned, ${after.toFixed(1)} ms tuned (${(before / after).toFixed(2)}x)\nwrote ${out}\n`,
  );
  gpu.device.destroy();
}
