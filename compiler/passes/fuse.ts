// Epilogue fusion: work that follows a conv or dense layer is done in that layer's kernel,
// saving a dispatch and a round trip of the whole tensor through memory.
//  - fuse-residual: add(conv(x), r) -> conv(x) with residual r, when the add has two
//    same-shaped operands, the conv's output feeds only the add, and r exists before the conv;
//  - fuse-activation: act(conv(x)) -> conv(x) with that activation, when nothing else reads
//    the conv's output. Residual first, so that relu(conv + r) fuses whole. Pooling, batch norm,
//    add and mul take a following activation the same way (their `act` attribute).
import type { Node } from "../ir/graph.js";
import { isActivation, nodeActivation, opDef, attrValue } from "../ops/index.js";
import { producers, useCounts, withNodes, type Pass } from "./pass.js";

type Fusable = Node & { op: "conv2d" | "dense" };

function open(n: Node | undefined, uses: Map<string, number>): n is Fusable {
  return (
    (n?.op === "conv2d" || n?.op === "dense") &&
    n.attrs.act === "none" &&
    n.inputs.length === 1 &&
    uses.get(n.name) === 1
  );
}

export const fuseResidual: Pass = {
  name: "fuse-residual",
  summary: "fuse a residual add into the conv or dense layer that produces one operand",
  run(graph, ctx) {
    const uses = useCounts(graph);
    const made = producers(graph);
    const order = new Map(graph.nodes.map((n, i) => [n.name, i]));
    const defined = (v: string): number => order.get(v) ?? -1; // graph inputs come first
    const replace = new Map<string, Node>();
    const renamed = new Map<string, string>();
    for (const add of graph.nodes) {
      if (add.op !== "add" || add.inputs.length !== 2) continue;
      const same = add.inputs.every((v) => {
        const s = made.get(v)?.shape ?? graph.inputs.find((i) => i.name === v)?.shape;
        return s?.length === add.shape.length && s.every((d, i) => d === add.shape[i]);
      });
      if (!same) continue;
      // The later-defined operand is the one to fuse into: the other exists before it runs.
      const [u, v] = [...add.inputs].sort((a, b) => defined(b) - defined(a)) as [string, string];
      const p = made.get(u);
      if (u === v || !open(p, uses) || replace.has(p.name) || defined(v) >= defined(u)) continue;
      replace.set(p.name, { ...p, inputs: [p.inputs[0]!, v] } as Node);
      renamed.set(add.name, p.name);
    }
    if (renamed.size === 0) return graph;
    ctx.report(`fused ${renamed.size} residual add${renamed.size === 1 ? "" : "s"}`);
    const nodes = graph.nodes
      .filter((n) => !renamed.has(n.name))
      .map((n) => replace.get(n.name) ?? n);
    return withNodes(graph, nodes, renamed);
  },
};

export const fuseActivation: Pass = {
  name: "fuse-activation",
  summary: "fuse an activation into the conv, dense, pooling, batch norm or add/mul before it",
  run(graph, ctx) {
    const uses = useCounts(graph);
    const made = producers(graph);
    const replace = new Map<string, Node>();
    const renamed = new Map<string, string>();
    for (const a of graph.nodes) {
      if (!isActivation(a.op)) continue;
      const p = made.get(a.inputs[0]!);
      // A residual-fused layer may still take an activation: act(conv + r). So may a pooling,
      // batch norm or elementwise op (its post-activation): bn -> relu, add -> relu and
      // maxpool -> relu become one kernel each.
      const ok =
        p !== undefined &&
        opDef(p.op).traits.fusedActivation !== undefined &&
        nodeActivation(p).act === "none" &&
        uses.get(p.name) === 1 &&
        !replace.has(p.name);
      if (!ok) continue;
      const alpha = (attrValue(a, "alpha") as number | undefined) ?? 0;
      replace.set(p.name, { ...p, attrs: { ...p.attrs, act: a.op, alpha } } as Node);
      renamed.set(a.name, p.name);
    }
    if (renamed.size === 0) return graph;
    ctx.report(`fused ${renamed.size} activation${renamed.size === 1 ? "" : "s"}`);
    const nodes = graph.nodes
      .filter((n) => !renamed.has(n.name))
      .map((n) => replace.get(n.name) ?? n);
    return withNodes(graph, nodes, renamed);
  },
};
