// Receptive field and jump (the input-pixel distance between adjacent outputs), by the
// standard recurrence for a window of size k, stride s, dilation d:
//   rf_out = rf_in + (d * (k - 1)) * jump_in,   jump_out = jump_in * s.
// Merges (add, concat, mul, a fused residual) take the largest of their inputs. Ops that see
// their whole input (global pooling, flatten, dense) are "global": the recurrence goes on as
// if their window were the whole map, and they are flagged, because a network's receptive
// field is, by the usual convention (Araujo et al., "Computing Receptive Fields of CNNs",
// 2019), that of its last local feature map. Each op's rule is its registry entry's.
import type { Shape } from "../ir/graph.js";
import type { Cost, Pair, ReceptiveField } from "./types.js";

export const inputField: ReceptiveField = { rf: [1, 1], jump: [1, 1], global: false };

export function windowed(x: ReceptiveField, k: Pair, s: Pair, d: Pair): ReceptiveField {
  return {
    rf: [x.rf[0] + d[0] * (k[0] - 1) * x.jump[0], x.rf[1] + d[1] * (k[1] - 1) * x.jump[1]],
    jump: [x.jump[0] * s[0], x.jump[1] * s[1]],
    global: x.global,
  };
}

export function wholeMap(x: ReceptiveField, input: Shape | undefined): ReceptiveField {
  if (!input || input.length !== 3) return { ...x, global: true };
  const k: Pair = [input[1]!, input[2]!];
  return { ...windowed(x, k, k, [1, 1]), global: true };
}

/** Several fields meeting in one value: the largest of each. */
export function merged(inputs: readonly ReceptiveField[]): ReceptiveField {
  return {
    rf: [Math.max(...inputs.map((i) => i.rf[0])), Math.max(...inputs.map((i) => i.rf[1]))],
    jump: [Math.max(...inputs.map((i) => i.jump[0])), Math.max(...inputs.map((i) => i.jump[1]))],
    global: inputs.some((i) => i.global),
  };
}

/** The rule of ops that map each pixel to itself (activations, batch norm, ...). */
export function pointwise(_: unknown, inputs: readonly ReceptiveField[]): ReceptiveField {
  return inputs[0] ?? inputField;
}

/** Ops that do no arithmetic worth counting (data movement). */
export const free = (): Cost => ({ macs: 0, flops: 0 });

/** `perElement` floating-point operations for every output element. */
export function perOutput(perElement: number) {
  return (node: { readonly shape: Shape }): Cost => ({
    macs: 0,
    flops: perElement * node.shape.reduce((a, b) => a * b, 1),
  });
}
