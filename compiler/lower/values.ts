// Compile-time values: what block parameters and layer arguments evaluate to, and the
// evaluation of `.cnn` expressions (`c * 2`, `c / 2`, `int(32 * alpha)`, `[3, 5]`).
import type { Expr } from "../../grammar/ast.js";
import type { SourceRange } from "../../grammar/diagnostics.js";
import { LowerError } from "./errors.js";
import { didYouMean } from "./suggest.js";

export type Val =
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean }
  /** A bare word that is no parameter: `same`, `valid`, `nearest`, `reflect`... */
  | { readonly kind: "symbol"; readonly name: string }
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "list"; readonly items: readonly Val[] };

export function describeVal(v: Val): string {
  switch (v.kind) {
    case "int":
    case "float":
      return String(v.value);
    case "bool":
      return String(v.value);
    case "symbol":
      return `'${v.name}'`;
    case "string":
      return `"${v.value}"`;
    case "list":
      return `[${v.items.map(describeVal).join(", ")}]`;
  }
}

/** Parameters visible to an expression: a block's arguments. */
export type Params = ReadonlyMap<string, Val>;

const functions = ["int", "float", "round", "min", "max"] as const;

function num(v: Val, range: SourceRange, what: string): number {
  if (v.kind === "int" || v.kind === "float") return v.value;
  throw new LowerError(`${what} needs a number, got ${describeVal(v)}`, range, "type");
}

function fromNumber(value: number, integer: boolean, range: SourceRange): Val {
  if (!Number.isFinite(value)) {
    throw new LowerError(`the value ${value} is not a finite number`, range, "value");
  }
  if (integer && !Number.isSafeInteger(value)) {
    throw new LowerError(`the integer ${value} is too large`, range, "value");
  }
  return integer ? { kind: "int", value } : { kind: "float", value };
}

export function evaluate(expr: Expr, params: Params): Val {
  switch (expr.kind) {
    case "number":
      return fromNumber(expr.value, expr.integer, expr.range);
    case "string":
      return { kind: "string", value: expr.value };
    case "name": {
      const bound = params.get(expr.name);
      if (bound) return bound;
      if (expr.name === "true" || expr.name === "false") {
        return { kind: "bool", value: expr.name === "true" };
      }
      return { kind: "symbol", name: expr.name };
    }
    case "list":
      return { kind: "list", items: expr.items.map((e) => evaluate(e, params)) };
    case "neg": {
      const v = evaluate(expr.operand, params);
      return fromNumber(-num(v, expr.range, "'-'"), v.kind === "int", expr.range);
    }
    case "binary": {
      const l = evaluate(expr.left, params);
      const r = evaluate(expr.right, params);
      const a = num(l, expr.left.range, `'${expr.op}'`);
      const b = num(r, expr.right.range, `'${expr.op}'`);
      const ints = l.kind === "int" && r.kind === "int";
      if ((expr.op === "/" || expr.op === "%") && b === 0) {
        throw new LowerError("division by zero", expr.range, "value");
      }
      switch (expr.op) {
        case "+":
          return fromNumber(a + b, ints, expr.range);
        case "-":
          return fromNumber(a - b, ints, expr.range);
        case "*":
          return fromNumber(a * b, ints, expr.range);
        case "/":
          // Integer division for int operands, as the language defines (floor, like Python's //).
          return fromNumber(ints ? Math.floor(a / b) : a / b, ints, expr.range);
        case "%":
          return fromNumber(ints ? a - b * Math.floor(a / b) : a % b, ints, expr.range);
      }
    }
    case "call": {
      const name = expr.callee.name;
      const args = expr.args.map((a) => {
        if (a.name) {
          throw new LowerError(`${name}() takes no keyword arguments`, a.range, "argument");
        }
        return num(evaluate(a.value, params), a.range, `${name}()`);
      });
      const one = (): number => {
        if (args.length !== 1) {
          throw new LowerError(
            `${name}() takes one argument, got ${args.length}`,
            expr.range,
            "argument",
          );
        }
        return args[0]!;
      };
      switch (name) {
        case "int":
          return fromNumber(Math.trunc(one()), true, expr.range);
        case "float":
          return fromNumber(one(), false, expr.range);
        case "round":
          return fromNumber(Math.round(one()), true, expr.range);
        case "min":
        case "max": {
          if (args.length === 0) {
            throw new LowerError(`${name}() needs at least one argument`, expr.range, "argument");
          }
          const ints = expr.args.every((a) => evaluate(a.value, params).kind === "int");
          const v = name === "min" ? Math.min(...args) : Math.max(...args);
          return fromNumber(v, ints, expr.range);
        }
        default:
          throw new LowerError(
            `unknown function '${name}'${didYouMean(name, functions)}; known: ${functions.join(", ")}`,
            expr.callee.range,
            "unknown-function",
          );
      }
    }
  }
}
