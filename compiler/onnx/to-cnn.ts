// IR -> `.cnn` text: one `let` per layer, the layer labelled with its own name, so that the
// text lowers back to the same graph with the same weight names (`<layer>.weight`). Used by
// `cnnc import`; readable rather than compact (no blocks are recovered).
import type { Graph, Node } from "../ir/graph.js";
import { nodeActivation, opDef } from "../ops/index.js";

const list = (xs: readonly number[]): string => `[${xs.join(", ")}]`;

/** The layer call of a node, as its registry entry prints it. */
function layer(node: Node): string {
  const def = opDef(node.op);
  if (def.traits.fusedActivation === "post" && nodeActivation(node).act !== "none")
    throw new Error("internal: fused activations have no .cnn form");
  return def.cnn.print(node);
}

export function printCnn(graph: Graph, header: string): string {
  const lines = header.split("\n").map((l) => `# ${l}`.trimEnd());
  lines.push(`network ${graph.name} {`);
  for (const i of graph.inputs) lines.push(`  input ${i.name}: ${list(i.shape)}`);
  for (const n of graph.nodes) {
    const merge = opDef(n.op).traits.merge === true;
    const source = merge ? "" : `${n.inputs[0]} -> `;
    lines.push(`  let ${n.name} = ${source}${n.name}: ${layer(n)}`);
  }
  // An output named apart from its value gets a `let` of that name.
  for (const o of graph.outputs) if (o.name !== o.value) lines.push(`  let ${o.name} = ${o.value}`);
  lines.push(`  output ${graph.outputs.map((o) => o.name).join(", ")}`, "}");
  return lines.join("\n") + "\n";
}
