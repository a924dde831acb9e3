// The verifier: the IR's invariants, checked after lowering and (in tests, or with
// --verify-each) after every pass. It reports every problem it finds, not only the first.
import { elementCount, formatShape, type Graph, type Shape } from "./graph.js";
import {
  arityAllows,
  arityText,
  attrValue,
  opDef,
  ShapeError,
  type AttrKind,
} from "../ops/index.js";

export class VerifyError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid IR:\n  ${problems.join("\n  ")}`);
  }
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function attrOk(kind: AttrKind, v: unknown): boolean {
  switch (kind) {
    case "int":
      return Number.isSafeInteger(v) && (v as number) >= 0;
    case "float":
      return typeof v === "number" && Number.isFinite(v);
    case "bool":
      return typeof v === "boolean";
    case "dims":
      return (
        Array.isArray(v) &&
        v.length >= 1 &&
        v.length <= 3 &&
        v.every((x) => Number.isSafeInteger(x) && x >= 1)
      );
    case "pair":
    case "quad":
      return (
        Array.isArray(v) &&
        v.length === (kind === "pair" ? 2 : 4) &&
        v.every((x) => Number.isSafeInteger(x) && x >= 0)
      );
    default:
      return typeof v === "string" && kind.includes(v);
  }
}

/** Every invariant violated by the graph, as sentences naming the node; empty when valid. */
export function verifyProblems(graph: Graph): string[] {
  const problems: string[] = [];
  const shapes = new Map<string, Shape>();
  const weights = new Map<string, Shape>();
  for (const w of graph.weights) {
    if (weights.has(w.name)) problems.push(`weight @${w.name} is declared twice`);
    weights.set(w.name, w.shape);
  }
  for (const i of graph.inputs) {
    if (shapes.has(i.name)) problems.push(`value %${i.name} is defined twice`);
    shapes.set(i.name, i.shape);
  }
  const used = new Set<string>();
  for (const node of graph.nodes) {
    const at = `%${node.name} (${node.op})`;
    if (shapes.has(node.name)) problems.push(`${at}: value is defined twice`);
    const def = opDef(node.op);
    const arityOk = arityAllows(def.arity, node.inputs.length);
    if (!arityOk) problems.push(`${at}: takes ${arityText(def.arity)}, has ${node.inputs.length}`);
    const inputShapes: Shape[] = [];
    for (const v of node.inputs) {
      const s = shapes.get(v);
      if (!s) problems.push(`${at}: uses %${v} before it is defined`);
      else inputShapes.push(s);
    }
    const schema = def.attrs as Readonly<Record<string, AttrKind>>;
    const attrs = node.attrs as Readonly<Record<string, unknown>>;
    let attrsOk = true;
    for (const [key, kind] of Object.entries(schema)) {
      if (!attrOk(kind, attrValue(node, key))) {
        problems.push(
          `${at}: attribute ${key} = ${String(attrs[key])} is not a valid ${String(kind)}`,
        );
        attrsOk = false;
      }
    }
    for (const key of Object.keys(attrs)) {
      if (!(key in schema)) problems.push(`${at}: unknown attribute ${key}`);
    }
    if (attrsOk && arityOk && inputShapes.length === node.inputs.length) {
      try {
        const inferred = def.infer(node.attrs, inputShapes);
        if (!sameShape(inferred, node.shape)) {
          problems.push(
            `${at}: type says ${formatShape(node.shape)}, inputs give ${formatShape(inferred)}`,
          );
        }
        const specs = def.weights(node.attrs, inputShapes);
        if (specs.length !== node.weights.length) {
          problems.push(`${at}: expects ${specs.length} weights, has ${node.weights.length}`);
        }
        specs.forEach((spec, i) => {
          const name = node.weights[i];
          if (name === undefined) return;
          used.add(name);
          const declared = weights.get(name);
          if (!declared) problems.push(`${at}: weight @${name} is not declared`);
          else if (!sameShape(declared, spec.shape)) {
            problems.push(
              `${at}: weight @${name} (${spec.role}) is ${formatShape(declared)}, expected ${formatShape(spec.shape)}`,
            );
          }
        });
      } catch (e) {
        if (!(e instanceof ShapeError)) throw e;
        problems.push(`${at}: ${e.message}`);
      }
    }
    shapes.set(node.name, node.shape);
  }
  for (const w of graph.weights) {
    if (!used.has(w.name)) problems.push(`weight @${w.name} is declared but no node uses it`);
    const data = graph.constants?.get(w.name);
    if (graph.constants && data?.length !== w.shape.reduce((a, b) => a * b, 1)) {
      problems.push(
        `weight @${w.name} has ${data ? data.length : "no"} values for ${formatShape(w.shape)}`,
      );
    }
  }
  if (graph.outputs.length === 0) problems.push("the graph has no output");
  for (const o of graph.outputs) {
    const shape = shapes.get(o.value);
    if (!shape) problems.push(`output ${o.name} refers to undefined %${o.value}`);
    else if (o.declared && elementCount(o.declared) !== elementCount(shape))
      problems.push(
        `output ${o.name}: ${formatShape(o.declared)} does not hold the ${formatShape(shape)} of %${o.value}`,
      );
  }
  return problems;
}

/** Throws VerifyError listing every problem, or returns the graph unchanged. */
export function verify<G extends Graph>(graph: G): G {
  const problems = verifyProblems(graph);
  if (problems.length) throw new VerifyError(problems);
  return graph;
}
