// What a network needs of a device at a batch size, against its limits: one rule for the
// runtime (a batch too large for this device is a RuntimeError before anything is allocated)
// and for the compiler (a bundle that needs more than WebGPU's default limits at batch 1 is
// built with a warning, for it loads only on devices that raise them).
import { bytesPerWeight, type Grid, type Manifest } from "./format.js";

/** The device limits a network's buffers and dispatches are held to. */
export interface DeviceLimits {
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxStorageBuffersPerShaderStage: number;
}

/** What every WebGPU device offers without asking (the spec's defaults). */
export const defaultLimits: DeviceLimits = {
  maxStorageBufferBindingSize: 128 << 20,
  maxBufferSize: 256 << 20,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 8,
};

/** The parts of a bundle (or a plan) whose sizes depend on the batch. */
export interface Demands {
  readonly values: readonly { readonly name: string; readonly perBatch: number }[];
  readonly arena: number;
  readonly weights: readonly { readonly name: string; readonly shape: readonly number[] }[];
  /** The weights' buffers hold halves (Manifest.halfWeights); f32 where absent. */
  readonly halfWeights?: boolean;
  readonly kernels: readonly string[];
  readonly dispatches: readonly Pick<
    Manifest["dispatches"][number],
    "label" | "kernel" | "bindings" | "grid"
  >[];
}

/** The workgroups a dispatch launches at a batch size (a flat grid folds into x and y). */
export function workgroups(grid: Grid, batch: number): [number, number, number] {
  if (grid.kind === "flat") {
    const total = Math.ceil((grid.perBatch * batch) / grid.groupSize);
    const x = Math.min(total, 65535);
    return [x, Math.ceil(total / x), 1];
  }
  const n = (l: { perBatch: number; fixed: number; div: number }): number =>
    Math.ceil((l.perBatch * batch + l.fixed) / l.div);
  return [n(grid.x), n(grid.y), n(grid.z)];
}

/** The first thing that does not fit the limits at this batch size, said as a clause. */
export function batchProblem(m: Demands, limits: DeviceLimits, batch: number): string | undefined {
  for (const v of m.values) {
    const size = v.perBatch * batch * 4;
    if (size > limits.maxStorageBufferBindingSize)
      return `'${v.name}' needs ${size} bytes; the device binds at most ${limits.maxStorageBufferBindingSize}`;
  }
  const arena = m.arena * batch * 4;
  if (arena > limits.maxBufferSize)
    return `the activations need ${arena} bytes; the device's largest buffer is ${limits.maxBufferSize}`;
  for (const d of m.dispatches) {
    const size = workgroups(d.grid, batch);
    if (size.some((n) => n > limits.maxComputeWorkgroupsPerDimension))
      return `layer '${d.label}' would need ${size.join("x")} workgroups; the device launches at most ${limits.maxComputeWorkgroupsPerDimension} per dimension`;
  }
  return undefined;
}

/** The weights the kernels bind (a derived weight's source may only be read at load). */
export function boundWeights(m: Demands): Set<string> {
  return new Set(
    m.dispatches.flatMap((d) => d.bindings.flatMap((b) => ("weight" in b ? [b.weight] : []))),
  );
}

/** What does not fit at any batch size: a bound weight over the largest binding or buffer, a
 * kernel with more storage buffers than a shader stage may bind. */
export function fixedProblems(m: Demands, limits: DeviceLimits): string[] {
  const problems: string[] = [];
  const most = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const bound = boundWeights(m);
  for (const w of m.weights) {
    const values = w.shape.reduce((a, b) => a * b, 1);
    const bytes = 4 * Math.ceil((values * bytesPerWeight(m.halfWeights ? "f16" : "f32")) / 4);
    if (bound.has(w.name) && bytes > most)
      problems.push(`weight '${w.name}' needs ${bytes} bytes; the device binds at most ${most}`);
  }
  m.kernels.forEach((wgsl, k) => {
    const storage = (wgsl.match(/var<storage/g) ?? []).length;
    if (storage > limits.maxStorageBuffersPerShaderStage) {
      const label = m.dispatches.find((d) => d.kernel === k)?.label ?? `kernel ${k}`;
      problems.push(
        `layer '${label}' binds ${storage} storage buffers; a shader stage may bind at most ${limits.maxStorageBuffersPerShaderStage}`,
      );
    }
  });
  return problems;
}
