// The op registry: every op of the IR, one entry each, assembled from one module per op
// family. Every other stage folds over it: lowering reads `cnn.layers`, the interpreter
// `reference`, analysis `cost` and `receptiveField`, codegen `emit`, ONNX `toOnnx`/`fromOnnx`.
// Adding an op to a family is one entry there (the family's attribute map and its table, both
// checked by the type checker), its tests and its line in docs/language.md.
import { activationOps } from "./activation-ops.js";
import type { ActivationAttrs, EpilogueAct } from "./activations.js";
import { convOps, type ConvFamily } from "./conv.js";
import { denseOps, type DenseFamily } from "./dense.js";
import { elementwiseOps, type ElementwiseFamily } from "./elementwise.js";
import { normOps, type NormFamily } from "./norm.js";
import { poolOps, type PoolFamily } from "./pool.js";
import { shapeOps, type ShapeFamily } from "./shape.js";
import type { Arity, OpDef, Traits } from "./types.js";

export interface OpAttrs
  extends
    ConvFamily,
    PoolFamily,
    NormFamily,
    DenseFamily,
    ShapeFamily,
    ElementwiseFamily,
    ActivationAttrs {}

export type OpKind = keyof OpAttrs;

export const registry: { readonly [K in OpKind]: OpDef<OpAttrs[K]> } = {
  ...convOps,
  ...poolOps,
  ...normOps,
  ...denseOps,
  ...shapeOps,
  ...elementwiseOps,
  ...activationOps,
};

export const opKinds = Object.keys(registry) as OpKind[];

export function isOpKind(name: string): name is OpKind {
  return Object.hasOwn(registry, name);
}

/** The op's definition, typed for any node (method parameters are bivariant, so this holds). */
export function opDef(op: OpKind): OpDef<OpAttrs[OpKind]> {
  return registry[op] as OpDef<OpAttrs[OpKind]>;
}

/** The ops with a trait: `opsWith((t) => t.inPlace)`. */
export function opsWith(test: (traits: Traits) => boolean | undefined): ReadonlySet<OpKind> {
  return new Set(opKinds.filter((k) => test(registry[k].traits)));
}

/** The input count an op accepts, as a sentence fragment. */
export function arityText(arity: Arity): string {
  if (arity === "residual") return "one input and an optional residual";
  return arity === "many" ? "two or more inputs" : arity === 1 ? "one input" : `${arity} inputs`;
}

export function arityAllows(arity: Arity, n: number): boolean {
  if (arity === "many") return n >= 2;
  if (arity === "residual") return n === 1 || n === 2;
  return n === arity;
}

/** An attribute's value, its default where the node leaves it out. */
export function attrValue(
  node: { readonly op: OpKind; readonly attrs: object },
  key: string,
): unknown {
  const value = (node.attrs as Readonly<Record<string, unknown>>)[key];
  if (value !== undefined) return value;
  return (opDef(node.op).defaults as Readonly<Record<string, unknown>> | undefined)?.[key];
}

/** The activation a node applies to its result: conv2d/dense epilogues and post-activations. */
export function nodeActivation(node: { readonly op: OpKind; readonly attrs: object }): {
  readonly act: EpilogueAct;
  readonly alpha: number;
} {
  const act = attrValue(node, "act");
  return act === undefined
    ? { act: "none", alpha: 0 }
    : {
        act: act as EpilogueAct,
        alpha: (attrValue(node, "alpha") as number | undefined) ?? 0,
      };
}

export * from "./types.js";
export * from "./activations.js";
export { isDepthwise, sourceIndex } from "./conv.js";
export { upsampleModes, type UpsampleMode } from "./shape.js";
export { maxElements, windowOutput } from "./shape-rules.js";
export { inputField } from "./field.js";
export type { Emitter, TrainEmitter } from "./emit.js";
export type { OnnxAttr, OnnxConstant, OnnxReader, OnnxWriter } from "./onnx.js";
export type { LayerDef, NodeSpec } from "./language.js";
