// A node's MACs and FLOPs: its registry entry's `cost` rule, counted as the papers count them.
import type { Node, Shape } from "../ir/graph.js";
import { opDef, type Cost } from "../ops/index.js";

export function cost(node: Node, inputs: readonly Shape[]): Cost {
  return opDef(node.op).cost(node, inputs);
}
