// `cnnc inspect`: what a .cnnb bundle or an .onnx model holds, without running it: the network,
// its inputs and outputs, kernels and dispatches, weights and their size, the tuning a bundle
// carries; for a model its producer, opsets, op types, and whether cnnc imports it.
import { readFileSync } from "node:fs";
import onnxProto from "onnx-proto";
import { bytes, grouped } from "../compiler/analysis/index.js";
import { BundleError, parseBundle, parseTrainingBundle, type Manifest } from "../runtime/index.js";
import { bundleKind, readContainer, wgslBytes } from "../runtime/format.js";
import { trainingMemory } from "../compiler/train/plan.js";
import { importModel, UserError, type Io, type ModelFlags } from "./common.js";

const { onnx } = onnxProto;

function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch {
    throw new UserError(`cannot read '${file}'`);
  }
}

const dims = (shape: readonly (number | string)[]): string => `[${shape.join(", ")}]`;

/** Label-value lines, the labels in one column. */
function lines(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n";
}

/** A training bundle: its plan's parts, the optimiser, the memory a step takes. */
function inspectTrainingBundle(file: string, data: Uint8Array): string {
  let parsed;
  try {
    parsed = parseTrainingBundle(data);
  } catch (e) {
    if (e instanceof BundleError) throw new UserError(`${file}: ${e.message}`);
    throw e;
  }
  const { plan, optimizer } = parsed;
  const sizeOf = (role: string) =>
    plan.buffers.filter((b) => b.role === role).reduce((n, b) => n + b.size, 0);
  const m = trainingMemory(plan, 32);
  const o = optimizer;
  const extra = [
    o.momentum === undefined ? "" : `momentum ${o.momentum}`,
    o.weightDecay === undefined ? "" : `weight decay ${o.weightDecay}`,
  ].filter((t) => t);
  return lines([
    ["bundle", `${file} (${grouped(data.length)} bytes), a training bundle (loadTrainer)`],
    ["network", plan.network],
    ["input", `${plan.input.name} ${dims(["N", ...plan.input.shape])}`],
    ["scores", `${plan.classes} classes ('${plan.logits}'), softmax cross-entropy loss`],
    ["optimizer", `${o.kind}, lr ${o.lr}${extra.length ? `, ${extra.join(", ")}` : ""}`],
    [
      "kernels",
      `${plan.kernels.length} WGSL shaders; a step: ${plan.forward.length} forward, ${plan.loss.length} loss, ${plan.backward.length} backward, ${plan.update.length} update dispatches; predict ${plan.predict.length}`,
    ],
    [
      "weights",
      `${plan.params.length} trained of ${plan.buffers.filter((b) => b.role === "weight").length} tensors, ${grouped(sizeOf("weight"))} values (${bytes(sizeOf("weight") * 4)} stored)`,
    ],
    ["memory", `${bytes(m.totalBytes)} on the device at batch 32 (cnnc summary --train)`],
  ]);
}

function inspectBundle(file: string, data: Uint8Array): string {
  let manifest;
  try {
    const { raw } = readContainer(data);
    if (bundleKind(raw) === "training") return inspectTrainingBundle(file, data);
    manifest = parseBundle(data).manifest;
  } catch (e) {
    if (e instanceof BundleError) throw new UserError(`${file}: ${e.message}`);
    throw e;
  }
  const values = manifest.weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
  const source = wgslBytes(manifest.kernels);
  const tuning = manifest.tuning;
  const tuned = tuning
    ? `tuned on ${tuning.adapter}: ${Object.keys(tuning.layers).length} layers (${Object.entries(
        tuning.layers,
      )
        .slice(0, 3)
        .map(([l, c]) => `${l}: ${c}`)
        .join("; ")}${Object.keys(tuning.layers).length > 3 ? "; ..." : ""})`
    : "none (cnnc build's defaults; cnnc tune fits them to an adapter)";
  return lines([
    ["bundle", `${file} (${grouped(data.length)} bytes)`],
    ["network", manifest.network],
    ["inputs", manifest.inputs.map((i) => `${i.name} ${dims(["N", ...i.shape])}`).join(", ")],
    ["outputs", manifest.outputs.map((o) => `${o.name} ${dims(["N", ...o.shape])}`).join(", ")],
    [
      "kernels",
      `${manifest.kernels.length} WGSL shaders (${bytes(source)} of source), ${manifest.dispatches.length} dispatches per run`,
    ],
    ...subgroupLine(manifest),
    [
      "weights",
      `${manifest.weights.length} tensors, ${grouped(values)} values (${bytes(manifest.blobBytes)} stored${halfNote(manifest)})`,
    ],
    ["activations", `${bytes(manifest.arena * 4)} per batch item (one planned arena)`],
    ...(manifest.variants?.cpu
      ? [
          [
            "for CPU emulations",
            `${manifest.variants.cpu.kernels.length} WGSL shaders, ${manifest.variants.cpu.dispatches.length} dispatches per run, ${bytes(manifest.variants.cpu.arena * 4)} of activations (the runtime takes these on llvmpipe, SwiftShader and the like)`,
          ] as [string, string],
        ]
      : []),
    ...(manifest.quick?.cpu
      ? [
          [
            "quick start",
            `${manifest.quick.cpu.kernels.length} WGSL shaders (${bytes(wgslBytes(manifest.quick.cpu.kernels))} of source) for CPU emulations: quick to compile, they give the first results while the others compile`,
          ] as [string, string],
        ]
      : []),
    ["tuning", tuned],
    ["IR", manifest.ir === undefined ? "not included" : "included (cnnc run --cpu runs it)"],
  ]);
}

/** How f16 weights are read: as halves (packed) or widened to f32 at load, plan by plan. */
function halfNote(m: Manifest): string {
  if (m.weightFormat !== "f16") return "";
  const how = (half: boolean | undefined) => (half ? "read as halves" : "widened to f32 at load");
  const cpu = m.variants?.cpu;
  const read =
    cpu && !!cpu.halfWeights !== !!m.halfWeights
      ? `${how(m.halfWeights)}, by CPU emulations ${how(cpu.halfWeights)}`
      : how(m.halfWeights);
  return ` as f16; ${read}; computed in f32`;
}

/** How many kernels carry a subgroup form, in the bundle's plans that have any. */
function subgroupLine(manifest: Manifest): [string, string][] {
  const count = (p: { subgroupKernels?: Manifest["subgroupKernels"] } | undefined) =>
    Object.keys(p?.subgroupKernels ?? {}).length;
  const own = count(manifest);
  const cpu = count(manifest.variants?.cpu);
  if (!own && !cpu) return [];
  const parts = [
    ...(own ? [`${own} of the shaders`] : []),
    ...(cpu ? [`${cpu} of the CPU emulations' shaders`] : []),
  ];
  return [
    [
      "subgroups",
      `${parts.join(" and ")} have a second form with subgroup operations (GEMV, softmax, global pooling), which the runtime takes where the device offers WebGPU's subgroups`,
    ],
  ];
}

const text = (v: unknown): string => String(v ?? "");

function inspectModel(file: string, data: Uint8Array, flags: ModelFlags): string {
  let model;
  try {
    model = onnx.ModelProto.decode(data);
  } catch (e) {
    throw new UserError(`${file}: not an ONNX model (${(e as Error).message})`);
  }
  const g = model.graph;
  if (!g) throw new UserError(`${file}: the model has no graph`);
  const initialized = new Set((g.initializer ?? []).map((t) => t.name ?? ""));
  const values = (g.initializer ?? []).reduce(
    (a, t) => a + (t.dims ?? []).reduce((x: number, y) => x * Number(y), 1),
    0,
  );
  const info = (v: onnxProto.onnx.IValueInfoProto) => {
    const shape = v.type?.tensorType?.shape?.dim ?? [];
    const d = shape.map((x) =>
      x.dimParam ? x.dimParam : x.dimValue != null ? Number(text(x.dimValue)) : "?",
    );
    const type = onnx.TensorProto.DataType[v.type?.tensorType?.elemType ?? 0] ?? "?";
    return `${v.name} ${dims(d)} ${String(type).toLowerCase()}`;
  };
  const ops = new Map<string, number>();
  for (const n of g.node ?? []) ops.set(n.opType ?? "", (ops.get(n.opType ?? "") ?? 0) + 1);
  const opList = [...ops]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([op, n]) => `${op} ${n}`)
    .join(", ");
  let verdict: string;
  try {
    verdict = `yes: ${importModel(file, flags).nodes.length} layers`;
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    verdict = `no: ${e.message.replace(`${file}: `, "").split("\n").slice(0, 3).join(" ")}`;
  }
  const opsets = (model.opsetImport ?? [])
    .map((o) => `${o.domain || "ai.onnx"} ${text(o.version)}`)
    .join(", ");
  return lines([
    ["model", `${file} (${grouped(data.length)} bytes)`],
    [
      "producer",
      `${model.producerName || "unknown"} ${model.producerVersion ?? ""}`.trim() +
        `, IR version ${text(model.irVersion)}, opsets: ${opsets}`,
    ],
    ["graph", `${g.name || "(unnamed)"}: ${(g.node ?? []).length} nodes`],
    [
      "inputs",
      (g.input ?? [])
        .filter((i) => !initialized.has(i.name ?? ""))
        .map(info)
        .join(", "),
    ],
    ["outputs", (g.output ?? []).map(info).join(", ")],
    [
      "weights",
      `${(g.initializer ?? []).length} initializers, ${grouped(values)} values${ops.has("Constant") ? ` (and ${ops.get("Constant")} Constant nodes)` : ""}`,
    ],
    ["op types", opList],
    ["cnnc imports it", verdict],
  ]);
}

export function inspectCommand(io: Io, file: string, flags: ModelFlags): void {
  const data = readBytes(file);
  const magic = new TextDecoder().decode(data.subarray(0, 4));
  if (magic === "CNNB") io.out(inspectBundle(file, data));
  else if (file.endsWith(".onnx") || data[0] === 0x08) io.out(inspectModel(file, data, flags));
  else
    throw new UserError(
      `${file}: inspect reads a .cnnb bundle or an .onnx model; for .cnn source, cnnc summary`,
    );
}
