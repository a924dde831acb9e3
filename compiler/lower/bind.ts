// Binding a call's arguments to a layer's parameters: positional first, then keywords, each
// converted to its kind with an error that names the layer, the argument and what was given.
import type { Arg } from "../../grammar/ast.js";
import type { SourceRange } from "../../grammar/diagnostics.js";
import { LowerError } from "./errors.js";
import { Args, type ArgKind, type ArgValue, type ParamSpec } from "./layers.js";
import { didYouMean } from "./suggest.js";
import { describeVal, evaluate, type Params, type Val } from "./values.js";

/** Integers in shapes stay far below 2^31 so that kernels can index with i32/u32. */
const maxInt = 2 ** 31 - 1;

function kindText(kind: ArgKind): string {
  if (typeof kind !== "string") return `one of ${kind.join(", ")}`;
  switch (kind) {
    case "count":
      return "a positive integer";
    case "natural":
      return "a non-negative integer";
    case "pair":
      return "a positive integer or [h, w]";
    case "pair0":
      return "a non-negative integer or [h, w]";
    case "dims":
      return "a shape: [f], [h, w] or [c, h, w]";
    case "padding":
      return "valid, same, an integer, [h, w] or [top, left, bottom, right]";
    case "float":
      return "a number";
    case "positive":
      return "a positive number";
    case "probability":
      return "a number in [0, 1)";
    case "bool":
      return "true or false";
  }
}

function intIn(v: Val, min: number): number | undefined {
  return v.kind === "int" && v.value >= min && v.value <= maxInt ? v.value : undefined;
}

function intList(v: Val, min: number, lengths: readonly number[]): number[] | undefined {
  if (v.kind !== "list" || !lengths.includes(v.items.length)) return undefined;
  const items = v.items.map((x) => intIn(x, min));
  return items.every((x) => x !== undefined) ? (items as number[]) : undefined;
}

function convert(kind: ArgKind, v: Val): ArgValue | undefined {
  if (typeof kind !== "string") {
    const word = v.kind === "symbol" ? v.name : v.kind === "string" ? v.value : undefined;
    return word !== undefined && kind.includes(word) ? word : undefined;
  }
  switch (kind) {
    case "count":
      return intIn(v, 1);
    case "natural":
      return intIn(v, 0);
    case "pair":
    case "pair0": {
      const min = kind === "pair" ? 1 : 0;
      const n = intIn(v, min);
      if (n !== undefined) return [n, n];
      const l = intList(v, min, [2]);
      return l && [l[0]!, l[1]!];
    }
    case "dims":
      return intList(v, 1, [1, 2, 3]);
    case "padding": {
      if (v.kind === "symbol" && (v.name === "valid" || v.name === "same")) return { kind: v.name };
      const n = intIn(v, 0);
      if (n !== undefined) return { kind: "explicit", p: [n, n, n, n] };
      const l = intList(v, 0, [2, 4]);
      if (!l) return undefined;
      const [a, b, c, d] = l;
      return { kind: "explicit", p: l.length === 2 ? [a!, b!, a!, b!] : [a!, b!, c!, d!] };
    }
    case "float":
    case "positive":
    case "probability": {
      if (v.kind !== "int" && v.kind !== "float") return undefined;
      if (kind === "positive" && !(v.value > 0)) return undefined;
      if (kind === "probability" && !(v.value >= 0 && v.value < 1)) return undefined;
      return v.value;
    }
    case "bool":
      return v.kind === "bool" ? v.value : undefined;
  }
}

export function bindArgs(
  layer: string,
  specs: readonly ParamSpec[],
  args: readonly Arg[],
  params: Params,
  callRange: SourceRange,
): Args {
  const given = new Map<string, { value: Val; range: SourceRange }>();
  let positional = 0;
  let sawKeyword = false;
  for (const arg of args) {
    if (arg.name) {
      sawKeyword = true;
      const spec = specs.find((s) => s.name === arg.name!.name);
      if (!spec) {
        const names = specs.map((s) => s.name);
        const known = names.length ? `; its arguments: ${names.join(", ")}` : "";
        throw new LowerError(
          `${layer} has no argument '${arg.name.name}'${didYouMean(arg.name.name, names)}${known}`,
          arg.name.range,
          "unknown-argument",
        );
      }
      if (given.has(spec.name)) {
        throw new LowerError(
          `${layer}: argument '${spec.name}' is given twice`,
          arg.range,
          "argument",
        );
      }
      given.set(spec.name, { value: evaluate(arg.value, params), range: arg.range });
    } else {
      if (sawKeyword) {
        throw new LowerError(
          `${layer}: a positional argument cannot follow a keyword argument`,
          arg.range,
          "argument",
        );
      }
      const spec = specs[positional++];
      if (!spec) {
        throw new LowerError(
          `${layer} takes at most ${specs.length} argument${specs.length === 1 ? "" : "s"}, got ${args.length}`,
          arg.range,
          "argument-count",
        );
      }
      given.set(spec.name, { value: evaluate(arg.value, params), range: arg.range });
    }
  }
  const bound = new Map<string, ArgValue>();
  const view = new Args(bound);
  for (const spec of specs) {
    const g = given.get(spec.name);
    if (!g) {
      if (spec.default === undefined) {
        throw new LowerError(
          `${layer} needs '${spec.name}' (${kindText(spec.kind)})`,
          callRange,
          "missing-argument",
        );
      }
      bound.set(spec.name, typeof spec.default === "function" ? spec.default(view) : spec.default);
      continue;
    }
    const value = convert(spec.kind, g.value);
    if (value === undefined) {
      const hint = g.value.kind === "symbol" ? didYouMean(g.value.name, [...params.keys()]) : "";
      throw new LowerError(
        `${layer}: ${spec.name} must be ${kindText(spec.kind)}, got ${describeVal(g.value)}${hint}`,
        g.range,
        "argument-type",
      );
    }
    bound.set(spec.name, value);
  }
  return view;
}
