// The unary activation ops, one per entry of the activation table (activations.ts): what the
// table says of an activation becomes an op's reference, kernel, ONNX forms and layer.
import { activationBackward } from "../train/kernels.js";
import { elementCount } from "../ir/graph.js";
import { activationKernel } from "../codegen/direct.js";
import {
  activations,
  activationNames,
  type ActivationAttrs,
  type ActivationName,
} from "./activations.js";
import { perOutput, pointwise } from "./field.js";
import { elementwiseBackward, onlyInputs } from "./grad.js";
import { num, type LayerDef } from "./language.js";
import { sameShape } from "./shape-rules.js";
import type { Family, OpDef } from "./types.js";

function activationOp<K extends ActivationName>(name: K): OpDef<ActivationAttrs[K]> {
  const def = activations[name];
  const alphaOf = (attrs: ActivationAttrs[K]): number =>
    (attrs as { readonly alpha?: number }).alpha ?? 0;
  const layer: LayerDef = {
    doc: def.doc,
    params: def.alpha === undefined ? [] : [{ name: "alpha", kind: "float", default: def.alpha }],
    lower: (a) =>
      ({
        op: name,
        attrs: def.alpha === undefined ? {} : { alpha: a.float("alpha") },
      }) as ReturnType<LayerDef["lower"]>,
  };
  return {
    attrs: (def.alpha === undefined ? {} : { alpha: "float" }) as OpDef<
      ActivationAttrs[K]
    >["attrs"],
    arity: 1,
    weights: () => [],
    infer: sameShape,
    reference: (node, [x]) => x!.map((v) => def.reference(v, alphaOf(node.attrs))),
    cost: perOutput(def.flops),
    receptiveField: pointwise,
    traits: { family: "activation", inPlace: true, anyLayout: true },
    emit: (node, e) =>
      e.emit(
        activationKernel({
          input: node.inputs[0]!,
          output: e.output,
          perBatch: elementCount(node.shape),
          act: { op: name, alpha: alphaOf(node.attrs) },
          inPlace: e.inPlace !== undefined,
        }),
      ),
    grad: {
      backward: (node, [x], ctx) =>
        onlyInputs(elementwiseBackward(x!, ctx.dy, (v) => def.derivative(v, alphaOf(node.attrs)))),
      emitBackward(node, e) {
        const x = node.inputs[0]!;
        const dx = e.grad(x);
        const act = { op: name, alpha: alphaOf(node.attrs) };
        if (dx)
          e.emit(activationBackward(x, e.grad(node.name)!, dx, elementCount(node.shape), act));
      },
    },
    toOnnx: (node, w) => def.toOnnx(w, node.inputs[0]!, node.name, alphaOf(node.attrs)),
    fromOnnx: def.fromOnnx,
    cnn: {
      layers: { [name]: layer },
      print: (node) => (def.alpha === undefined ? name : `${name}(${num(alphaOf(node.attrs))})`),
    },
  };
}

export const activationOps = Object.fromEntries(
  activationNames.map((name) => [name, activationOp(name)]),
) as unknown as Family<ActivationAttrs>;
