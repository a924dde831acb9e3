import { describe, expect, it } from "vitest";
import { parseSource, type ChainStatement, type Expr } from "../grammar/index.js";

function parse(text: string) {
  return parseSource(text, "t.cnn");
}

function ok(text: string) {
  const r = parse(text);
  expect(
    r.diagnostics.map((d) => `${d.range.start.line}:${d.range.start.column} ${d.message}`),
  ).toEqual([]);
  return r.ast;
}

function expr(text: string): Expr {
  const ast = ok(`network N { input x: ${text} }`);
  const s = ast.networks[0]!.body[0]!;
  if (s.kind !== "input") throw new Error("not an input");
  return s.shape;
}

function show(e: Expr): string {
  switch (e.kind) {
    case "number":
      return String(e.value);
    case "name":
      return e.name;
    case "string":
      return JSON.stringify(e.value);
    case "neg":
      return `(-${show(e.operand)})`;
    case "binary":
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case "list":
      return `[${e.items.map(show).join(", ")}]`;
    case "call":
      return `${e.callee.name}(${e.args.map((a) => show(a.value)).join(", ")})`;
  }
}

describe("lexical structure", () => {
  it("skips both comment styles and accepts ; as a separator", () => {
    const ast = ok(`// a comment
network A {  # another
  input x: [3, 8, 8]; relu; relu   // three statements
}`);
    expect(ast.networks[0]!.body).toHaveLength(3);
  });

  it("keeps identifiers that start with a keyword whole", () => {
    const ast = ok("block networked(addition, inputs) { identity }");
    expect(ast.blocks[0]!.name.name).toBe("networked");
    expect(ast.blocks[0]!.params.map((p) => p.name.name)).toEqual(["addition", "inputs"]);
  });

  it("reads integers, floats and exponents", () => {
    expect(show(expr("[1, 2.5, 1e-5, .5, 3E2]"))).toBe("[1, 2.5, 0.00001, 0.5, 300]");
    const list = expr("[1, 2.0]");
    expect(list.kind === "list" && list.items.map((i) => i.kind === "number" && i.integer)).toEqual(
      [true, false],
    );
  });
});

describe("expressions", () => {
  it("binds * / % tighter than + -, left to right", () => {
    expect(show(expr("a + b * c - d / 2 % 3"))).toBe("((a + (b * c)) - ((d / 2) % 3))");
    expect(show(expr("a - b - c"))).toBe("((a - b) - c)");
  });

  it("has unary minus, parentheses, calls and lists", () => {
    expect(show(expr("-(a + 1) * int(32 * alpha)"))).toBe("((-(a + 1)) * int((32 * alpha)))");
    expect(show(expr("[c * 2, [1, 2]]"))).toBe("[(c * 2), [1, 2]]");
  });
});

describe("statements and layout", () => {
  it("chains with -> and continues lines after -> , ( and before ->", () => {
    const ast = ok(`network A {
  input x: [3, 8, 8]
  conv(8,
       3, pad=same) ->
    relu
    -> maxpool(2)
}`);
    const body = ast.networks[0]!.body;
    expect(body).toHaveLength(2);
    const chain = (body[1] as ChainStatement).chain;
    expect(chain.steps.map((s) => (s.op.kind === "call" ? s.op.callee.name : s.op.kind))).toEqual([
      "conv",
      "relu",
      "maxpool",
    ]);
  });

  it("parses labels, lets, outputs, repeat, identity and the combinators", () => {
    const ast = ok(`use "lib.cnn"
block b(c, k = 3) {
  add {
    branch { conv(c, k) -> bn
             relu }
    branch { identity }
  }
}
network N {
  input x: [3, 8, 8]
  stem: conv(8, 3)
  let skip = relu
  stage: repeat 2 { b(8) }
  concat(skip, last) -> mul { branch { identity } branch { sigmoid } }
  output skip, last
}`);
    expect(ast.uses.map((u) => u.path)).toEqual(["lib.cnn"]);
    expect(ast.blocks[0]!.params[1]!.default).toBeDefined();
    const body = ast.networks[0]!.body;
    expect(body.map((s) => s.kind)).toEqual(["input", "chain", "let", "chain", "chain", "output"]);
    const stem = (body[1] as ChainStatement).chain.steps[0]!;
    expect(stem.label?.name).toBe("stem");
    const rep = (body[3] as ChainStatement).chain.steps[0]!;
    expect(rep.label?.name).toBe("stage");
    expect(rep.op.kind).toBe("repeat");
    const combos = (body[4] as ChainStatement).chain.steps.map((s) => s.op);
    expect(combos.map((c) => c.kind === "combine" && c.combinator)).toEqual(["concat", "mul"]);
    const branchBody = ast.blocks[0]!.body[0] as ChainStatement;
    const add = branchBody.chain.steps[0]!.op;
    expect(add.kind === "combine" && add.branches?.[0]?.body).toHaveLength(2);
  });

  it("tells relu from relu() and records source ranges", () => {
    const ast = ok("network N {\n  input x: [3, 8, 8]\n  relu -> relu()\n}");
    const steps = (ast.networks[0]!.body[1] as ChainStatement).chain.steps;
    const [a, b] = steps.map((s) => s.op);
    expect(a?.kind === "call" && a.args).toBeUndefined();
    expect(b?.kind === "call" && b.args).toEqual([]);
    expect(steps[1]!.range.start).toMatchObject({ line: 3, column: 11 });
  });
});

describe("syntax errors", () => {
  it("are all reported in one run, each where the user must type", () => {
    const r = parse(`network A {
  input x: [3, 8, 8
  conv(8, 3 -> relu
  relu
}
network B {
  maxpool(2))
}`);
    const at = r.diagnostics.map((d) => `${d.range.start.line}:${d.range.start.column}`);
    expect(at).toEqual(["2:20", "3:13", "7:13"]);
    expect(r.diagnostics[0]!.message).toBe("expected ']' but found the end of the line");
  });

  it("reports unknown characters and goes on", () => {
    const r = parse("network A {\n  input x: [3, 8, 8]\n  relu $ relu\n  @\n}");
    expect(r.diagnostics.filter((d) => d.message.startsWith("unexpected character"))).toHaveLength(
      2,
    );
  });

  it("never throws, even on garbage", () => {
    for (const text of ["", "}", "network", "network {", "block b(", "->->->", "input x: [", '"']) {
      expect(() => parse(text)).not.toThrow();
    }
  });
});
