// IR -> `.cnn` text: one `let` per layer, the layer labelled with its own name, so that the
// text lowers back to the same graph with the same weight names (`<layer>.weight`). Used by
// `cnnc import`; readable rather than compact (no blocks are recovered).
import type { Graph, Node } from "../ir/graph.js";
import { nodeActivation, postActOps } from "../ir/ops.js";

const list = (xs: readonly number[]): string => `[${xs.join(", ")}]`;
const num = (x: number): string => String(x);

function layer(node: Node): string {
  if (postActOps.has(node.op) && nodeActivation(node).act !== "none")
    throw new Error("internal: fused activations have no .cnn form");
  switch (node.op) {
    case "conv2d": {
      const a = node.attrs;
      if (a.act !== "none" || node.inputs.length > 1)
        throw new Error("internal: fused epilogues have no .cnn form");
      const mode = a.padmode === "zeros" ? "" : `, padmode=${a.padmode}`;
      return `conv(${a.filters}, ${list(a.k)}, stride=${list(a.s)}, pad=${list(a.p)}, dilation=${list(a.d)}, groups=${a.g}, bias=${a.bias}${mode})`;
    }
    case "deconv2d": {
      const a = node.attrs;
      return `deconv(${a.filters}, ${list(a.k)}, stride=${list(a.s)}, pad=${list(a.p)}, output_pad=${list(a.outpad)}, dilation=${list(a.d)}, groups=${a.g}, bias=${a.bias})`;
    }
    case "sepconv2d": {
      const a = node.attrs;
      return `sepconv(${a.filters}, ${list(a.k)}, stride=${list(a.s)}, pad=${list(a.p)}, dilation=${list(a.d)}, multiplier=${a.mult}, bias=${a.bias}, padmode=${a.padmode})`;
    }
    case "maxpool2d":
      return `maxpool(${list(node.attrs.k)}, stride=${list(node.attrs.s)}, pad=${list(node.attrs.p)}, ceil=${node.attrs.ceil})`;
    case "avgpool2d": {
      const a = node.attrs;
      return `avgpool(${list(a.k)}, stride=${list(a.s)}, pad=${list(a.p)}, ceil=${a.ceil}, count_pad=${a.count_pad})`;
    }
    case "batchnorm":
      return `bn(eps=${num(node.attrs.eps)})`;
    case "dense":
      if (node.attrs.act !== "none" || node.inputs.length > 1)
        throw new Error("internal: fused epilogues have no .cnn form");
      return `dense(${node.attrs.units}, bias=${node.attrs.bias})`;
    case "dropout":
      return `dropout(${num(node.attrs.p)})`;
    case "upsample":
      return `upsample(${list(node.attrs.scale)}, mode=${node.attrs.mode})`;
    case "pad":
      return `pad(${list(node.attrs.p)}, mode=${node.attrs.mode}, value=${num(node.attrs.value)})`;
    case "lrn": {
      const a = node.attrs;
      return `lrn(size=${a.size}, alpha=${num(a.alpha)}, beta=${num(a.beta)}, k=${num(a.k)})`;
    }
    case "leaky_relu":
      return `leaky_relu(${num(node.attrs.alpha)})`;
    case "concat":
    case "add":
    case "mul":
      return `${node.op}(${node.inputs.join(", ")})`;
    default:
      return node.op;
  }
}

export function printCnn(graph: Graph, header: string): string {
  const lines = header.split("\n").map((l) => `# ${l}`.trimEnd());
  lines.push(`network ${graph.name} {`);
  for (const i of graph.inputs) lines.push(`  input ${i.name}: ${list(i.shape)}`);
  for (const n of graph.nodes) {
    const merge = n.op === "concat" || n.op === "add" || n.op === "mul";
    const source = merge ? "" : `${n.inputs[0]} -> `;
    lines.push(`  let ${n.name} = ${source}${n.name}: ${layer(n)}`);
  }
  // An output named apart from its value gets a `let` of that name.
  for (const o of graph.outputs) if (o.name !== o.value) lines.push(`  let ${o.name} = ${o.value}`);
  lines.push(`  output ${graph.outputs.map((o) => o.name).join(", ")}`, "}");
  return lines.join("\n") + "\n";
}
