// Receptive field and jump (the input-pixel distance between adjacent outputs) per node,
// by the standard recurrence for a window of size k, stride s, dilation d:
//   rf_out = rf_in + (d * (k - 1)) * jump_in,   jump_out = jump_in * s.
// Merges (add, concat, mul) take the largest of their inputs. Ops that see their whole input
// (global pooling, flatten, dense) are "global": the recurrence goes on as if their window were
// the whole map, and they are flagged, because a network's receptive field is, by the usual
// convention (Araujo et al., "Computing Receptive Fields of CNNs", 2019), that of its last
// local feature map.
import type { Node, Shape } from "../ir/graph.js";
import type { Pair } from "../ir/ops.js";

export interface ReceptiveField {
  readonly rf: Pair;
  readonly jump: Pair;
  /** Each output sees the whole input map. */
  readonly global: boolean;
}

export const inputField: ReceptiveField = { rf: [1, 1], jump: [1, 1], global: false };

function windowed(x: ReceptiveField, k: Pair, s: Pair, d: Pair): ReceptiveField {
  return {
    rf: [x.rf[0] + d[0] * (k[0] - 1) * x.jump[0], x.rf[1] + d[1] * (k[1] - 1) * x.jump[1]],
    jump: [x.jump[0] * s[0], x.jump[1] * s[1]],
    global: x.global,
  };
}

function wholeMap(x: ReceptiveField, input: Shape | undefined): ReceptiveField {
  if (!input || input.length !== 3) return { ...x, global: true };
  const k: Pair = [input[1]!, input[2]!];
  return { ...windowed(x, k, k, [1, 1]), global: true };
}

export function receptiveField(
  node: Node,
  inputs: readonly ReceptiveField[],
  inputShapes: readonly Shape[],
): ReceptiveField {
  const x = inputs[0] ?? inputField;
  switch (node.op) {
    case "conv2d":
    case "sepconv2d":
      return windowed(x, node.attrs.k, node.attrs.s, node.attrs.d);
    case "maxpool2d":
    case "avgpool2d":
      return windowed(x, node.attrs.k, node.attrs.s, [1, 1]);
    case "deconv2d": {
      // An output pixel gathers from ceil(k_eff / s) input pixels; outputs are 1/s apart.
      const { k, s, d } = node.attrs;
      const span = (i: 0 | 1): number => Math.ceil((d[i] * (k[i] - 1) + 1) / s[i]);
      return {
        rf: [x.rf[0] + (span(0) - 1) * x.jump[0], x.rf[1] + (span(1) - 1) * x.jump[1]],
        jump: [x.jump[0] / s[0], x.jump[1] / s[1]],
        global: x.global,
      };
    }
    case "upsample": {
      const { scale, mode } = node.attrs;
      const extra = mode === "bilinear" ? 1 : 0;
      return {
        rf: [x.rf[0] + extra * x.jump[0], x.rf[1] + extra * x.jump[1]],
        jump: [x.jump[0] / scale[0], x.jump[1] / scale[1]],
        global: x.global,
      };
    }
    case "globalavgpool":
    case "globalmaxpool":
      return wholeMap(x, inputShapes[0]);
    case "flatten":
    case "dense":
      return (inputShapes[0]?.length ?? 1) === 3
        ? wholeMap(x, inputShapes[0])
        : { ...x, global: true };
    case "concat":
    case "add":
    case "mul":
      return {
        rf: [Math.max(...inputs.map((i) => i.rf[0])), Math.max(...inputs.map((i) => i.rf[1]))],
        jump: [
          Math.max(...inputs.map((i) => i.jump[0])),
          Math.max(...inputs.map((i) => i.jump[1])),
        ],
        global: inputs.some((i) => i.global),
      };
    default:
      return x;
  }
}
