// The uniform every kernel reads at binding 0: the batch size, then, for a shape family's
// shader (compiler/codegen/families.ts), the sizes of the layer a dispatch runs.

/** What a dispatch binds at 0: a range of the one uniform buffer of a batch size. */
export interface Uniforms {
  readonly buffer: GPUBuffer;
  /** The range dispatch `i` (of the list given) binds. */
  binding(i: number): GPUBufferBinding;
}

/**
 * One buffer holding a slot for the batch alone and one for each distinct list of sizes the
 * dispatches carry, each slot at the adapter's uniform offset alignment.
 */
export function dispatchUniforms(
  device: GPUDevice,
  batch: number,
  dispatches: readonly { readonly params?: readonly number[] }[],
  label = "params",
): Uniforms {
  const stride = Math.max(256, device.limits.minUniformBufferOffsetAlignment);
  const slots = new Map<string, number>([["", 0]]);
  const slotOf = dispatches.map((d) => {
    const key = (d.params ?? []).join(",");
    let slot = slots.get(key);
    if (slot === undefined) slots.set(key, (slot = slots.size));
    return slot;
  });
  const data = new Uint32Array((slots.size * stride) / 4);
  for (const [key, slot] of slots) {
    data[(slot * stride) / 4] = batch;
    if (key) data.set(key.split(",").map(Number), (slot * stride) / 4 + 1);
  }
  const buffer = device.createBuffer({
    label,
    size: data.byteLength,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, data);
  return {
    buffer,
    binding: (i) => {
      const n = 1 + (dispatches[i]!.params?.length ?? 0);
      return { buffer, offset: slotOf[i]! * stride, size: Math.ceil(n / 4) * 16 };
    },
  };
}
