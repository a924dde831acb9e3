// The IR's text form, MLIR-like, one line per input, weight, node and output:
//
//   graph Tiny {
//     input %x : f32[N,3,64,64]
//     weight @stem.weight : f32[32,3,3,3]
//     %stem = conv2d(%x, @stem.weight) {filters=32 k=[3,3] s=[2,2] p=[0,0,1,1] ...} : f32[N,32,32,32]
//     output y = %dense_1
//   }
//
// Attributes print in the op table's order, so the text is canonical and `parseIr` reads it
// back to an equal graph (`printIr(parseIr(t)) === t`).
import type { Graph, Node, Shape } from "./graph.js";
import { attrValue as valueOf, opDef, type AttrKind } from "../ops/index.js";

export function tensorType(shape: Shape): string {
  return `f32[${["N", ...shape].join(",")}]`;
}

function attrValue(kind: AttrKind, value: unknown): string {
  if (Array.isArray(value)) return `[${value.join(",")}]`;
  if (kind === "float" && typeof value === "number") return String(value);
  return String(value);
}

export function printAttrs(node: Node): string {
  const def = opDef(node.op);
  const schema = def.attrs as Readonly<Record<string, AttrKind>>;
  const defaults = (def.defaults ?? {}) as Readonly<Record<string, unknown>>;
  const parts = Object.keys(schema)
    .filter((k) => !(k in defaults) || defaults[k] !== valueOf(node, k))
    .map((k) => `${k}=${attrValue(schema[k]!, valueOf(node, k))}`);
  return parts.length ? ` {${parts.join(" ")}}` : "";
}

export function printNode(node: Node): string {
  const operands = [...node.inputs.map((v) => `%${v}`), ...node.weights.map((w) => `@${w}`)];
  return `%${node.name} = ${node.op}(${operands.join(", ")})${printAttrs(node)} : ${tensorType(node.shape)}`;
}

export function printIr(graph: Graph): string {
  const lines = [`graph ${graph.name} {`];
  for (const i of graph.inputs) lines.push(`  input %${i.name} : ${tensorType(i.shape)}`);
  for (const w of graph.weights) lines.push(`  weight @${w.name} : f32[${w.shape.join(",")}]`);
  for (const n of graph.nodes) lines.push(`  ${printNode(n)}`);
  for (const o of graph.outputs)
    lines.push(
      `  output ${o.name} = %${o.value}${o.declared ? ` : ${tensorType(o.declared)}` : ""}`,
    );
  lines.push("}");
  return lines.join("\n") + "\n";
}
