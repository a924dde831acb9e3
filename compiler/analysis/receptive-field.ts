// Receptive field and jump of every value of a graph: a fold of each op's registry rule
// (ops/field.ts states the recurrence). A property of the network: the passes keep it (a
// fused residual merges as the add it replaced did).
import { valueShapes, type Graph, type Node, type Shape } from "../ir/graph.js";
import { inputField, opDef, type ReceptiveField } from "../ops/index.js";

export type { ReceptiveField } from "../ops/index.js";
export { inputField } from "../ops/index.js";

export function receptiveField(
  node: Node,
  inputs: readonly ReceptiveField[],
  inputShapes: readonly Shape[],
): ReceptiveField {
  return opDef(node.op).receptiveField(node, inputs.length ? inputs : [inputField], inputShapes);
}

/** The field of every value, inputs included. */
export function receptiveFields(graph: Graph): Map<string, ReceptiveField> {
  const shapes = valueShapes(graph);
  const fields = new Map<string, ReceptiveField>(graph.inputs.map((i) => [i.name, inputField]));
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((v) => fields.get(v) ?? inputField);
    fields.set(
      node.name,
      receptiveField(
        node,
        inputs,
        node.inputs.map((v) => shapes.get(v) ?? []),
      ),
    );
  }
  return fields;
}
