/// <reference types="@webgpu/types" preserve="true" />
// Training on WebGPU: runs a training plan (compiler/train/plan.ts) on a device. A step uploads
// a batch and its labels and records the forward pass, the loss, the backward pass and the
// optimiser's update in one submission; nothing is read back until asked (`sums`, `weights`),
// so steps queue on the GPU without waiting for each other.
import type { OptimizerConfig, TrainDispatch, TrainPlan } from "./train-format.js";
import type { StepSums, Trainer } from "../compiler/train/trainer.js";
import { hyper, hyperSize } from "./format.js";
import { workgroups } from "./limits.js";
import { RuntimeError } from "./model.js";
import { dispatchUniforms } from "./uniforms.js";

/** Where a named buffer of the plan lives: a GPU buffer, or a range of a pack (bytes). */
interface Place {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly size: number;
}

interface BatchState {
  readonly arena: GPUBuffer;
  readonly ranges: ReadonlyMap<string, { offset: number; size: number }>;
  readonly params: GPUBuffer;
  readonly groups: ReadonlyMap<TrainDispatch, GPUBindGroup>;
}

export class GpuTrainer implements Trainer {
  private readonly batches = new Map<number, BatchState>();
  private steps = 0;
  /** The GPU's verdicts on the work submitted since the last check (validation errors). */
  private pending: Promise<GPUError | null>[] = [];

  private constructor(
    readonly device: GPUDevice,
    readonly plan: TrainPlan,
    readonly config: OptimizerConfig,
    private readonly pipelines: readonly GPUComputePipeline[],
    /** Every buffer of the plan by name: its own, or its range of a pack. */
    private readonly places: ReadonlyMap<string, Place>,
    /** What must stay referenced while the device lives (Dawn's instance in Node). */
    private readonly keepAlive: unknown,
  ) {}

  static async create(
    plan: TrainPlan,
    weights: ReadonlyMap<string, Float32Array>,
    config: OptimizerConfig,
    device: GPUDevice,
    keepAlive?: unknown,
  ): Promise<GpuTrainer> {
    const pipelines = await Promise.all(
      plan.kernels.map(async (code, k) => {
        const module = device.createShaderModule({ label: `training kernel ${k}`, code });
        const info = await module.getCompilationInfo();
        const errors = info.messages.filter((m) => m.type === "error");
        if (errors.length)
          throw new RuntimeError(
            `training kernel ${k} does not compile: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join("; ")}`,
          );
        return device.createComputePipelineAsync({
          label: `training kernel ${k}`,
          layout: "auto",
          compute: { module, entryPoint: "main" },
        });
      }),
    );
    // Buffers of their own, then the ranges of packs (trained weights, their gradients, the
    // optimiser's slots): every named buffer a place, in bytes.
    const places = new Map<string, Place>();
    for (const b of plan.buffers) {
      if (b.within) continue;
      const buffer = device.createBuffer({
        label: b.name,
        size: Math.max(4, b.size * 4),
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
      });
      places.set(b.name, { buffer, offset: 0, size: b.size * 4 });
    }
    for (const b of plan.buffers) {
      if (!b.within) continue;
      const pack = places.get(b.within.buffer);
      if (!pack) throw new Error(`internal: '${b.name}' lies in unknown '${b.within.buffer}'`);
      places.set(b.name, { buffer: pack.buffer, offset: b.within.offset * 4, size: b.size * 4 });
    }
    const write = (at: Place, data: Float32Array) =>
      device.queue.writeBuffer(
        at.buffer,
        at.offset,
        data.buffer as ArrayBuffer,
        data.byteOffset,
        data.byteLength,
      );
    for (const b of plan.buffers) {
      if (b.init) write(places.get(b.name)!, b.init);
      if (b.role === "weight") {
        const data = weights.get(b.name);
        if (!data || data.length !== b.size)
          throw new RuntimeError(
            `weight '${b.name}': expected ${b.size} values, got ${data?.length ?? "none"}`,
          );
        write(places.get(b.name)!, data);
      }
    }
    return new GpuTrainer(device, plan, config, pipelines, places, keepAlive);
  }

  get classes(): number {
    return this.plan.classes;
  }

  /** Optimiser steps taken. */
  get stepCount(): number {
    return this.steps;
  }

  private state(batch: number): BatchState {
    const cached = this.batches.get(batch);
    if (cached) return cached;
    const device = this.device;
    device.pushErrorScope("validation");
    const ranges = new Map<string, { offset: number; size: number }>(
      this.plan.values.map((v) => [
        v.name,
        { offset: v.offset * batch * 4, size: v.perBatch * batch * 4 },
      ]),
    );
    const arena = device.createBuffer({
      label: `training arena (batch ${batch})`,
      size: this.plan.arena * batch * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    const p = this.plan;
    const all = [...p.forward, ...p.loss, ...p.backward, ...p.update, ...p.predict];
    const uniforms = dispatchUniforms(device, batch, all);
    const params = uniforms.buffer;
    const groups = new Map<TrainDispatch, GPUBindGroup>();
    for (const [i, d] of all.entries()) {
      groups.set(
        d,
        device.createBindGroup({
          label: d.label,
          layout: this.pipelines[d.kernel]!.getBindGroupLayout(0),
          entries: [
            { binding: 0, resource: uniforms.binding(i) },
            ...d.bindings.map((b, i) => {
              if ("weight" in b) return { binding: i + 1, resource: this.places.get(b.weight)! };
              const r = ranges.get(b.value);
              if (!r) throw new Error(`internal: training value '${b.value}' has no buffer`);
              return {
                binding: i + 1,
                resource: { buffer: arena, offset: r.offset, size: r.size },
              };
            }),
          ],
        }),
      );
    }
    const s = { arena, ranges, params, groups };
    this.pending.push(device.popErrorScope());
    this.batches.set(batch, s);
    return s;
  }

  private upload(s: BatchState, value: string, data: Float32Array): void {
    const r = s.ranges.get(value)!;
    if (data.byteLength !== r.size)
      throw new Error(`internal: '${value}' takes ${r.size} bytes, got ${data.byteLength}`);
    this.device.queue.writeBuffer(
      s.arena,
      r.offset,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  private record(
    pass: GPUComputePassEncoder,
    s: BatchState,
    list: readonly TrainDispatch[],
    batch: number,
  ): void {
    for (const d of list) {
      pass.setPipeline(this.pipelines[d.kernel]!);
      pass.setBindGroup(0, s.groups.get(d)!);
      pass.dispatchWorkgroups(...workgroups(d.grid, batch));
    }
  }

  private checkBatch(x: Float32Array, batch: number): void {
    if (!(Number.isSafeInteger(batch) && batch >= 1))
      throw new RuntimeError(`a batch has at least one item, got ${batch}`);
    const per = this.plan.input.shape.reduce((a, b) => a * b, 1);
    if (x.length !== per * batch)
      throw new RuntimeError(
        `input '${this.plan.input.name}': expected ${per * batch} values ([${[batch, ...this.plan.input.shape].join(", ")}]), got ${x.length}`,
      );
  }

  /**
   * One optimisation step at learning rate `lr` (the configuration's unless given): forward
   * (training mode), loss, backward, update. `seed` draws the step's dropout masks (the step's
   * number unless given). `update: false` stops after the backward pass (the gradients stay in
   * their buffers: `gradients`).
   */
  step(
    x: Float32Array,
    labels: ArrayLike<number>,
    lr = this.config.lr,
    seed = this.steps,
    update = true,
  ): void {
    const batch = labels.length;
    this.checkBatch(x, batch);
    for (let i = 0; i < batch; i++) {
      const y = labels[i]!;
      if (!(Number.isInteger(y) && y >= 0 && y < this.plan.classes))
        throw new RuntimeError(
          `label ${i} of the batch is ${y}: labels are class indices 0..${this.plan.classes - 1}`,
        );
    }
    const s = this.state(batch);
    this.upload(s, this.plan.input.name, x);
    this.upload(s, this.plan.labels, Float32Array.from(labels));
    const c = this.config;
    const t = this.steps + 1;
    const [b1, b2] = [c.beta1 ?? 0.9, c.beta2 ?? 0.999];
    const h = new Float32Array(hyperSize);
    h[hyper.lr] = lr;
    h[hyper.momentum] = c.momentum ?? 0.9;
    h[hyper.decay] = c.weightDecay ?? (c.kind === "adamw" ? 0.01 : 0);
    h[hyper.beta1] = b1;
    h[hyper.beta2] = b2;
    h[hyper.eps] = c.eps ?? 1e-8;
    h[hyper.c1] = 1 - b1 ** t;
    h[hyper.c2] = 1 - b2 ** t;
    h[hyper.first] = t === 1 ? 1 : 0;
    h[hyper.seed] = seed % 16777216;
    this.device.queue.writeBuffer(this.places.get(this.plan.hyper)!.buffer, 0, h);
    this.device.pushErrorScope("validation");
    const encoder = this.device.createCommandEncoder({ label: "training step" });
    for (const b of new Set(this.plan.params.map((p) => this.places.get(p.grad)!.buffer)))
      encoder.clearBuffer(b);
    const pass = encoder.beginComputePass({ label: "training step" });
    const p = this.plan;
    this.record(
      pass,
      s,
      [...p.forward, ...p.loss, ...p.backward, ...(update ? p.update : [])],
      batch,
    );
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    this.pending.push(this.device.popErrorScope());
    if (update) this.steps = t;
  }

  /** Throws what the GPU refused of the work submitted so far. */
  private async checked(): Promise<void> {
    const verdicts = await Promise.all(this.pending);
    this.pending = [];
    const error = verdicts.find((e) => e !== null);
    if (error) throw new RuntimeError(`the GPU refused a training step: ${error.message}`);
  }

  private async read(buffer: GPUBuffer, offset: number, size: number): Promise<Float32Array> {
    await this.checked();
    const staging = this.device.createBuffer({
      size: Math.max(4, size),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** The loss and hits summed since the last reset (waits for the steps queued before). */
  async sums(reset = false): Promise<StepSums> {
    const b = this.places.get(this.plan.sums)!.buffer;
    const [loss, correct, items] = await this.read(b, 0, 12);
    if (reset) this.device.queue.writeBuffer(b, 0, new Float32Array(4));
    return { loss: items ? loss! / items : 0, correct: correct!, items: items! };
  }

  /** The logits of a batch in inference mode (running statistics, no dropout). */
  async predict(x: Float32Array, batch: number): Promise<Float32Array> {
    this.checkBatch(x, batch);
    const s = this.state(batch);
    this.upload(s, this.plan.predictInput, x);
    const encoder = this.device.createCommandEncoder({ label: "predict" });
    const pass = encoder.beginComputePass();
    this.record(pass, s, this.plan.predict, batch);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
    const r = s.ranges.get(this.plan.predictLogits)!;
    return this.read(s.arena, r.offset, r.size);
  }

  private readPlace(name: string): Promise<Float32Array> {
    const at = this.places.get(name)!;
    return this.read(at.buffer, at.offset, at.size);
  }

  /** Every weight of the network as the GPU holds it (trained ones and running statistics). */
  async weights(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const b of this.plan.buffers)
      if (b.role === "weight") out.set(b.name, await this.readPlace(b.name));
    return out;
  }

  /** The gradients the last step left, by weight (a step with `update: false` first). */
  async gradients(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const p of this.plan.params) out.set(p.name, await this.readPlace(p.grad));
    return out;
  }

  /** The optimiser's state as named arrays (a checkpoint's `optimizer.*`), and its step. */
  async optimizerState(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>([["optimizer.step", Float32Array.of(this.steps)]]);
    for (const p of this.plan.params)
      for (const [i, slot] of p.slots.entries())
        out.set(`optimizer.${p.name}.${i}`, await this.readPlace(slot));
    return out;
  }

  /** Takes up an optimiser's state (`optimizerState`'s, a checkpoint's), each slot checked. */
  restoreOptimizer(state: ReadonlyMap<string, Float32Array>): void {
    for (const p of this.plan.params)
      for (const [i, slot] of p.slots.entries()) {
        const data = state.get(`optimizer.${p.name}.${i}`);
        const at = this.places.get(slot)!;
        if (data && data.byteLength !== at.size)
          throw new RuntimeError(
            `optimizer state of '${p.name}': expected ${at.size / 4} values, got ${data.length}`,
          );
      }
    this.steps = state.get("optimizer.step")?.[0] ?? 0;
    for (const p of this.plan.params)
      for (const [i, slot] of p.slots.entries()) {
        const data = state.get(`optimizer.${p.name}.${i}`);
        const at = this.places.get(slot)!;
        if (data)
          this.device.queue.writeBuffer(
            at.buffer,
            at.offset,
            data.buffer as ArrayBuffer,
            data.byteOffset,
            data.byteLength,
          );
      }
  }

  dispose(): void {
    for (const b of new Set([...this.places.values()].map((at) => at.buffer))) b.destroy();
    for (const s of this.batches.values()) {
      s.arena.destroy();
      s.params.destroy();
    }
    this.batches.clear();
    void this.keepAlive;
  }
}
