// AST -> IR for one network: expands blocks and repeats, names every layer, infers every shape
// (through the op table) and reports user errors as diagnostics. An error poisons the value it
// would have produced; later steps that use a poisoned value are skipped without a message,
// so that each mistake is reported once and the rest of the file is still checked.
import type {
  BlockDecl,
  Chain,
  CombineOp,
  Combinator,
  Ident,
  NetworkDecl,
  RepeatOp,
  Statement,
  Step,
} from "../../grammar/ast.js";
import type { Diagnostic, SourceRange } from "../../grammar/diagnostics.js";
import { GraphBuilder } from "../ir/builder.js";
import { elementCount, formatShape, type Graph, type Shape } from "../ir/graph.js";
import { maxElements, opDef, opsWith, ShapeError } from "../ops/index.js";
import { verify } from "../ir/verify.js";
import { bindArgs } from "./bind.js";
import { LowerError } from "./errors.js";
import { layerNames, layers, type LayerDef, type NodeSpec } from "./layers.js";
import { NameScope, poisoned, ValueScope, type Flow, type Value } from "./names.js";
import { didYouMean } from "./suggest.js";
import { describeVal, evaluate, type Params, type Val } from "./values.js";

/** The merges (`add(a, b)`, `maximum { branch ... }`): keywords or calls by these names. */
const mergeOps: ReadonlySet<string> = opsWith((t) => t.merge);

/** Limits that keep a hostile or mistaken file from exhausting memory or time. */
export const limits = { nodes: 100_000, repeat: 10_000, blockDepth: 64, steps: 1_000_000 };

interface Ctx {
  readonly names: NameScope;
  readonly values: ValueScope;
  readonly params: Params;
  /** The block being expanded, if any (inputs and outputs belong to networks only). */
  readonly block?: string;
}

export interface LowerResult {
  readonly graph?: Graph;
  readonly diagnostics: readonly Diagnostic[];
}

export function lowerNetwork(
  network: NetworkDecl,
  blocks: ReadonlyMap<string, BlockDecl>,
): LowerResult {
  return new Lowering(network, blocks).run();
}

class Lowering {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly seen = new Set<string>();
  private readonly builder: GraphBuilder;
  private readonly outputs: { name: string; value: Flow; range: SourceRange }[] = [];
  private readonly calls: { block: string; range: SourceRange }[] = [];
  private inputs = 0;
  private nodeCount = 0;
  /** Steps expanded so far, poisoned ones included: nested repeats cannot run away. */
  private stepCount = 0;
  private aborted = false;

  constructor(
    private readonly network: NetworkDecl,
    private readonly blocks: ReadonlyMap<string, BlockDecl>,
  ) {
    this.builder = new GraphBuilder(network.name.name);
  }

  run(): LowerResult {
    const ctx: Ctx = { names: new NameScope(""), values: new ValueScope(), params: new Map() };
    const last = this.body(this.network.body, ctx, undefined);
    if (this.inputs === 0) {
      this.error(
        new LowerError(
          `network '${this.network.name.name}' has no input; declare one, e.g. 'input x: [3, 224, 224]'`,
          this.network.name.range,
          "no-input",
        ),
      );
    }
    if (this.outputs.length === 0 && last && last !== poisoned) {
      this.outputs.push({ name: last.name, value: last, range: this.network.name.range });
    }
    if (this.diagnostics.some((d) => d.severity === "error")) {
      return { diagnostics: this.diagnostics };
    }
    for (const o of this.outputs) {
      if (o.value && o.value !== poisoned) this.builder.output(o.name, o.value.name);
    }
    // Lowering builds graphs that verify by construction; a failure here is a compiler bug.
    return { graph: verify(this.builder.build()), diagnostics: this.diagnostics };
  }

  // ---- diagnostics ---------------------------------------------------------------------------

  private error(e: LowerError): void {
    const key = `${e.range.file}:${e.range.start.offset}:${e.message}`;
    if (this.seen.has(key)) return; // the same error in a block called several times
    this.seen.add(key);
    const notes = [
      ...e.notes,
      ...this.calls
        .slice()
        .reverse()
        .map((c) => ({ range: c.range, message: `in block '${c.block}' called here` })),
    ];
    this.diagnostics.push({
      code: e.code,
      severity: "error",
      range: e.range,
      message: e.message,
      ...(notes.length ? { notes } : {}),
    });
  }

  private warn(message: string, range: SourceRange): void {
    const key = `${range.file}:${range.start.offset}:${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.diagnostics.push({ code: "warning", severity: "warning", range, message });
  }

  // ---- statements ----------------------------------------------------------------------------

  private body(statements: readonly Statement[], ctx: Ctx, flow: Flow): Flow {
    for (const s of statements) {
      if (this.aborted) return poisoned;
      try {
        flow = this.statement(s, ctx, flow);
      } catch (e) {
        if (!(e instanceof LowerError)) throw e;
        this.error(e);
        if (s.kind === "let" && !ctx.values.has(s.name.name)) {
          ctx.values.define(s.name.name, poisoned, s.name.range);
        }
        flow = poisoned;
      }
    }
    return flow;
  }

  private statement(s: Statement, ctx: Ctx, flow: Flow): Flow {
    switch (s.kind) {
      case "input":
        return this.input(s.name, s.shape.range, evaluate(s.shape, ctx.params), ctx);
      case "output":
        if (ctx.block) {
          throw new LowerError(
            `'output' belongs in a network, not in block '${ctx.block}'`,
            s.range,
            "output",
          );
        }
        if (this.outputs.length) {
          throw new LowerError(
            "a network has one 'output' statement; list every output in it",
            s.range,
            "output",
          );
        }
        for (const name of s.names) {
          const value = this.namedValue(name, ctx, flow);
          const outName =
            name.name === "last" && value && value !== poisoned ? value.name : name.name;
          if (this.outputs.some((o) => o.name === outName)) {
            throw new LowerError(`'${outName}' is listed twice as an output`, name.range, "output");
          }
          this.outputs.push({ name: outName, value, range: name.range });
        }
        return flow;
      case "let": {
        if (s.name.name === "last") {
          throw new LowerError(
            "'last' always means the current value; choose another name",
            s.name.range,
            "name",
          );
        }
        const value = this.chain(s.chain, ctx, flow);
        ctx.values.define(s.name.name, value, s.name.range);
        return value;
      }
      case "chain":
        return this.chain(s.chain, ctx, flow);
    }
  }

  private input(name: Ident, range: SourceRange, shape: Val, ctx: Ctx): Flow {
    if (ctx.block) {
      throw new LowerError(
        `'input' belongs in a network, not in block '${ctx.block}'`,
        name.range,
        "input",
      );
    }
    this.inputs++; // (declared, even when its shape is wrong: no "has no input" error after)
    const dims =
      shape.kind === "list" ? shape.items.map((v) => (v.kind === "int" ? v.value : 0)) : [];
    const ok =
      (dims.length === 3 || dims.length === 1) &&
      dims.every((d) => Number.isSafeInteger(d) && d >= 1 && d <= 2 ** 31 - 1);
    if (!ok) {
      throw new LowerError(
        `an input shape is [C, H, W] or [F] of positive integers (batch is given at run time), got ${describeVal(shape)}`,
        range,
        "input",
      );
    }
    if (elementCount(dims) > maxElements)
      throw new LowerError(
        `the input ${formatShape(dims)} is too large (over 2^40 elements)`,
        range,
        "input",
      );
    ctx.names.claim(name.name, name.range);
    ctx.values.define(name.name, { name: name.name, shape: dims }, name.range);
    this.builder.input(name.name, dims);
    return { name: name.name, shape: dims };
  }

  /** A named value: `last` (the current value) or a `let` name or an input. */
  private namedValue(name: Ident, ctx: Ctx, flow: Flow): Flow {
    if (name.name === "last") {
      if (flow === undefined)
        throw new LowerError("'last' has no value yet: nothing precedes it", name.range, "name");
      return flow;
    }
    if (!ctx.values.has(name.name)) {
      throw new LowerError(
        `unknown value '${name.name}'${didYouMean(name.name, ctx.values.names())}`,
        name.range,
        "unknown-value",
      );
    }
    return ctx.values.get(name.name);
  }

  // ---- chains and steps ----------------------------------------------------------------------

  private chain(chain: Chain, ctx: Ctx, flow: Flow): Flow {
    chain.steps.forEach((step, i) => {
      flow = this.step(step, ctx, flow, i === 0);
    });
    return flow;
  }

  private step(step: Step, ctx: Ctx, flow: Flow, head: boolean): Flow {
    if (this.aborted) return poisoned;
    if (++this.stepCount > limits.steps) {
      this.aborted = true;
      throw new LowerError(
        `expanding the network takes more than ${limits.steps} steps; check the repeat counts`,
        step.range,
        "too-large",
      );
    }
    const op = step.op;
    switch (op.kind) {
      case "identity":
        if (step.label) {
          throw new LowerError(
            "'identity' makes no layer, so it cannot be named",
            step.label.range,
            "name",
          );
        }
        return flow;
      case "call": {
        const name = op.callee.name;
        const isValue = name === "last" || ctx.values.has(name);
        if (head && op.args === undefined && isValue) {
          if (step.label) {
            throw new LowerError(
              `a label names a layer, and '${name}' is a value`,
              step.label.range,
              "name",
            );
          }
          return this.namedValue(op.callee, ctx, flow);
        }
        const layer = layers[name];
        const block = this.blocks.get(name);
        // cnnc's merges beyond the contract's keywords: calls, unless a block takes the name
        if (!block && mergeOps.has(name)) {
          const merge: CombineOp = {
            kind: "combine",
            combinator: name as Combinator,
            keyword: op.callee.range,
            ...(op.args ? { args: op.args } : {}),
            ...(op.branches ? { branches: op.branches } : {}),
            range: op.range,
          };
          return this.combine(merge, step.label, ctx, flow);
        }
        if (op.branches) {
          throw new LowerError(
            `'${name}' takes no branches: only merges do (${[...mergeOps].sort().join(", ")})`,
            op.callee.range,
            "argument-type",
          );
        }
        if (!layer && !block) {
          if (isValue) {
            throw new LowerError(
              `'${name}' is a named value; a value can only start a chain ('${name} -> ...')`,
              op.callee.range,
              "value-position",
            );
          }
          const known = [...layerNames, ...this.blocks.keys(), ...(head ? ctx.values.names() : [])];
          throw new LowerError(
            `unknown layer or block '${name}'${didYouMean(name, known)}`,
            op.callee.range,
            "unknown-layer",
          );
        }
        if (flow === poisoned) {
          // The input is unknown, but the arguments and the label can still be checked.
          if (layer) bindArgs(name, layer.params, op.args ?? [], ctx.params, op.range);
          else this.blockArgs(block!, op.args ?? [], ctx, op.range);
          if (step.label) ctx.names.claim(step.label.name, step.label.range);
          return poisoned;
        }
        const input = this.requireInput(flow, name, op.range);
        return layer
          ? this.layer(name, layer, step, ctx, input)
          : this.callBlock(block!, step, ctx, input);
      }
      case "combine":
        return this.combine(op, step.label, ctx, flow);
      case "repeat":
        return this.repeat(op, step.label, ctx, flow);
    }
  }

  private requireInput(flow: Flow, what: string, range: SourceRange): Value {
    if (flow === undefined) {
      throw new LowerError(
        `${what} has no input: declare one first ('input x: [C, H, W]') or start from a named value`,
        range,
        "no-input",
      );
    }
    if (flow === poisoned) throw new Error("internal: poisoned value reached requireInput");
    return flow;
  }

  /** Adds one node named by its label or automatically; shape errors name the layer. */
  private emit(
    ctx: Ctx,
    kind: string,
    label: Ident | undefined,
    spec: NodeSpec,
    inputs: readonly Value[],
    range: SourceRange,
  ): Value {
    if (++this.nodeCount > limits.nodes) {
      throw new LowerError(`the network has more than ${limits.nodes} layers`, range, "too-large");
    }
    const local = label ? ctx.names.claim(label.name, label.range) : ctx.names.auto(kind);
    const path = ctx.names.path(local);
    const loc = { file: range.file, line: range.start.line, column: range.start.column };
    try {
      const node = this.builder.node(
        spec.op,
        path,
        inputs.map((v) => v.name),
        spec.attrs,
        loc,
      );
      return { name: node.name, shape: node.shape };
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      throw new LowerError(`${kind}: ${e.message} (layer '${path}')`, range, "shape");
    }
  }

  private layer(name: string, def: LayerDef, step: Step, ctx: Ctx, input: Value): Flow {
    const op = step.op.kind === "call" ? step.op : undefined;
    const args = bindArgs(name, def.params, op?.args ?? [], ctx.params, step.op.range);
    let current = input;
    const site = {
      input: input.shape,
      helper: (kind: string, spec: NodeSpec): Shape => {
        current = this.emit(ctx, kind, undefined, spec, [current], step.op.range);
        return current.shape;
      },
      warn: (message: string) => this.warn(message, step.op.range),
    };
    let spec: NodeSpec;
    try {
      spec = def.lower(args, site);
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      throw new LowerError(`${name}: ${e.message}`, step.op.range, "shape");
    }
    return this.emit(ctx, name, step.label, spec, [current], step.op.range);
  }

  private callBlock(block: BlockDecl, step: Step, ctx: Ctx, input: Value): Flow {
    const call = step.op;
    const name = block.name.name;
    const cycle = this.calls.findIndex((c) => c.block === name);
    if (cycle >= 0) {
      const path = [...this.calls.slice(cycle).map((c) => c.block), name].join(" -> ");
      throw new LowerError(`block '${name}' calls itself (${path})`, call.range, "recursive-block");
    }
    if (this.calls.length >= limits.blockDepth) {
      throw new LowerError(
        `blocks nest deeper than ${limits.blockDepth} calls`,
        call.range,
        "too-deep",
      );
    }
    const params = this.blockArgs(
      block,
      call.kind === "call" ? (call.args ?? []) : [],
      ctx,
      call.range,
    );
    const names = step.label
      ? ctx.names.child(ctx.names.claim(step.label.name, step.label.range))
      : ctx.names.child(ctx.names.auto(name));
    this.calls.push({ block: name, range: call.range });
    try {
      const out = this.body(
        block.body,
        { names, values: new ValueScope(), params, block: name },
        input,
      );
      return out ?? input;
    } finally {
      this.calls.pop();
    }
  }

  /** Binds a block's parameters; a default may use the parameters before it. */
  private blockArgs(
    block: BlockDecl,
    args: readonly { name?: Ident; value: Parameters<typeof evaluate>[0]; range: SourceRange }[],
    ctx: Ctx,
    range: SourceRange,
  ): Params {
    const name = block.name.name;
    const paramNames = block.params.map((p) => p.name.name);
    const given = new Map<string, Val>();
    let positional = 0;
    for (const arg of args) {
      if (arg.name) {
        if (!paramNames.includes(arg.name.name)) {
          throw new LowerError(
            `block '${name}' has no parameter '${arg.name.name}'${didYouMean(arg.name.name, paramNames)}`,
            arg.name.range,
            "unknown-argument",
          );
        }
        if (given.has(arg.name.name)) {
          throw new LowerError(`'${arg.name.name}' is given twice`, arg.range, "argument");
        }
        given.set(arg.name.name, evaluate(arg.value, ctx.params));
      } else {
        const p = paramNames[positional++];
        if (p === undefined) {
          throw new LowerError(
            `block '${name}' takes ${paramNames.length} argument${paramNames.length === 1 ? "" : "s"}, got ${args.length}`,
            arg.range,
            "argument-count",
          );
        }
        given.set(p, evaluate(arg.value, ctx.params));
      }
    }
    const bound = new Map<string, Val>();
    for (const p of block.params) {
      const v = given.get(p.name.name) ?? (p.default && evaluate(p.default, bound));
      if (!v) {
        throw new LowerError(`block '${name}' needs '${p.name.name}'`, range, "missing-argument");
      }
      bound.set(p.name.name, v);
    }
    return bound;
  }

  private combine(op: CombineOp, label: Ident | undefined, ctx: Ctx, flow: Flow): Flow {
    const kind = op.combinator;
    // div takes exactly two operands; the others two or more
    const arity = opDef(kind).arity;
    const exact = typeof arity === "number" ? arity : undefined;
    const count = (n: number, what: string) => {
      if (exact === undefined ? n >= 2 : n === exact) return;
      const wanted = exact === undefined ? "two or more" : "exactly two";
      throw new LowerError(`${kind} needs ${wanted} ${what}, got ${n}`, op.keyword, "arity");
    };
    let inputs: Flow[];
    if (op.branches) {
      count(op.branches.length, "branches");
      if (flow === poisoned) {
        if (label) ctx.names.claim(label.name, label.range);
        return poisoned;
      }
      const input = this.requireInput(flow, kind, op.keyword);
      inputs = op.branches.map((b) => {
        const names = ctx.names.child(ctx.names.auto("branch"));
        const values = new ValueScope(ctx.values);
        return this.body(b.body, { ...ctx, names, values }, input);
      });
    } else {
      const args = op.args ?? [];
      count(args.length, "named values");
      inputs = args.map((a) => {
        if (a.name || a.value.kind !== "name") {
          throw new LowerError(
            `${kind}(...) takes named values, e.g. ${kind}(a, b)`,
            a.range,
            "argument-type",
          );
        }
        return this.namedValue({ name: a.value.name, range: a.value.range }, ctx, flow);
      });
    }
    if (inputs.some((v) => v === poisoned || v === undefined)) return poisoned;
    return this.emit(ctx, kind, label, { op: kind, attrs: {} }, inputs as Value[], op.keyword);
  }

  private repeat(op: RepeatOp, label: Ident | undefined, ctx: Ctx, flow: Flow): Flow {
    const count = evaluate(op.count, ctx.params);
    if (count.kind !== "int" || count.value < 0 || count.value > limits.repeat) {
      throw new LowerError(
        `repeat needs a count from 0 to ${limits.repeat}, got ${describeVal(count)}`,
        op.count.range,
        "argument-type",
      );
    }
    const scope = label && ctx.names.child(ctx.names.claim(label.name, label.range));
    const hint = scope
      ? ""
      : ` (each pass of an unnamed 'repeat' shares its scope; name the repeat, e.g. 'stage: repeat ${count.value} {...}', to give each pass its own)`;
    for (let i = 1; i <= count.value && !this.aborted; i++) {
      const names = scope ? scope.child(String(i)) : ctx.names.withHint(hint);
      // Passes go on after an error: their labels and arguments are still checked.
      flow = this.body(op.body, { ...ctx, names, values: new ValueScope(ctx.values) }, flow);
    }
    return flow;
  }
}
