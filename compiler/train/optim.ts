// Optimisers and learning-rate schedules, PyTorch's definitions: SGD with momentum (dampening
// 0, optionally Nesterov) and L2 weight decay; Adam (L2 decay in the gradient) and AdamW
// (decoupled decay); step and cosine schedules. The state (momentum buffers, moments, step
// count) is named tensors, so a checkpoint saves and resumes it.
import type { NamedTensor } from "../weights/safetensors.js";

import type { OptimizerConfig, OptimizerKind } from "../../runtime/train-format.js";

export {
  optimizerKinds,
  type OptimizerConfig,
  type OptimizerKind,
} from "../../runtime/train-format.js";

/** Default learning rates: what trains the examples well in a few epochs. */
export const defaultLr: Readonly<Record<OptimizerKind, number>> = {
  sgd: 0.05,
  adam: 0.001,
  adamw: 0.001,
};

export class Optimizer {
  // float32, as PyTorch keeps a float32 parameter's state: a checkpoint holds it exactly
  private readonly slots = new Map<string, Float32Array[]>();
  private steps = 0;

  constructor(readonly config: OptimizerConfig) {}

  get stepCount(): number {
    return this.steps;
  }

  /** One update of every parameter with a gradient, at learning rate `lr`. */
  step(
    params: ReadonlyMap<string, Float32Array>,
    grads: ReadonlyMap<string, Float64Array>,
    lr: number,
  ): void {
    const c = this.config;
    const wd = c.weightDecay ?? (c.kind === "adamw" ? 0.01 : 0);
    this.steps++;
    const t = this.steps;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const slots = this.slotsOf(name, p.length, c.kind === "sgd" ? 1 : 2);
      if (c.kind === "sgd") {
        const momentum = c.momentum ?? 0.9;
        const buf = slots[0]!;
        for (let i = 0; i < p.length; i++) {
          const d = g[i]! + wd * p[i]!;
          // PyTorch: the first step's buffer is the gradient itself
          buf[i] = t === 1 || momentum === 0 ? d : momentum * buf[i]! + d;
          const update = c.nesterov ? d + momentum * buf[i]! : buf[i]!;
          p[i] = p[i]! - lr * update;
        }
        continue;
      }
      const [b1, b2, eps] = [c.beta1 ?? 0.9, c.beta2 ?? 0.999, c.eps ?? 1e-8];
      const [m, v] = slots as [Float32Array, Float32Array];
      const c1 = 1 - b1 ** t;
      const c2 = 1 - b2 ** t;
      for (let i = 0; i < p.length; i++) {
        let d = g[i]!;
        let w = p[i]!;
        if (c.kind === "adamw") w -= lr * wd * w;
        else d += wd * w;
        m[i] = b1 * m[i]! + (1 - b1) * d;
        v[i] = b2 * v[i]! + (1 - b2) * d * d;
        p[i] = w - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
      }
    }
  }

  private slotsOf(name: string, n: number, count: number): Float32Array[] {
    let s = this.slots.get(name);
    if (!s) this.slots.set(name, (s = Array.from({ length: count }, () => new Float32Array(n))));
    return s;
  }

  /** The state as named tensors (`optimizer.<param>.<slot>`, `optimizer.step`). */
  state(): Map<string, NamedTensor> {
    const out = new Map<string, NamedTensor>();
    out.set("optimizer.step", { shape: [1], data: Float32Array.of(this.steps) });
    for (const [name, slots] of this.slots)
      slots.forEach((s, i) =>
        out.set(`optimizer.${name}.${i}`, { shape: [s.length], data: s.slice() }),
      );
    return out;
  }

  /** Takes back a state `state()` wrote. */
  restore(state: ReadonlyMap<string, NamedTensor>): void {
    this.steps = state.get("optimizer.step")?.data[0] ?? 0;
    for (const [key, t] of state) {
      const m = /^optimizer\.(.+)\.(\d+)$/.exec(key);
      if (!m) continue;
      const slots = this.slotsOf(m[1]!, t.data.length, this.config.kind === "sgd" ? 1 : 2);
      slots[Number(m[2])]?.set(t.data);
    }
  }
}

export type ScheduleKind = "constant" | "step" | "cosine";
export const scheduleKinds: readonly ScheduleKind[] = ["constant", "step", "cosine"];

export interface Schedule {
  readonly kind: ScheduleKind;
  /** Step: the rate is multiplied by `gamma` (0.1) every `every` epochs (a third of them). */
  readonly every?: number;
  readonly gamma?: number;
}

/**
 * The learning rate at a point of training: `progress` in epochs (fractional within one).
 * Cosine anneals from `lr` to 0 over `epochs` (PyTorch's CosineAnnealingLR, per step).
 */
export function learningRate(
  lr: number,
  schedule: Schedule,
  progress: number,
  epochs: number,
): number {
  if (schedule.kind === "cosine") return 0.5 * lr * (1 + Math.cos((Math.PI * progress) / epochs));
  if (schedule.kind === "step") {
    const every = schedule.every ?? Math.max(1, Math.round(epochs / 3));
    return lr * (schedule.gamma ?? 0.1) ** Math.floor(progress / every);
  }
  return lr;
}
