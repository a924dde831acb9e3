// CST -> AST. The CST types come from grammar/cst.d.ts (generated from the parser), so a rule
// or token renamed in the grammar fails to compile here. With recovery on, the CST of a file
// with syntax errors may lack children the types call required; every access tolerates that
// (such a tree is never lowered, but building it must not crash).
import type { CstNode, CstNodeLocation, IToken } from "chevrotain";
import type * as C from "./cst.js";
import type * as A from "./ast.js";
import { fileStart, type SourceRange } from "./diagnostics.js";

export class AstBuilder {
  constructor(private readonly fileName: string) {}

  private range(node: CstNode | undefined): SourceRange {
    const loc: CstNodeLocation | undefined = node?.location;
    if (!loc || !Number.isFinite(loc.startOffset) || loc.startLine === undefined) {
      return fileStart(this.fileName);
    }
    const endOffset = Number.isFinite(loc.endOffset) ? loc.endOffset! : loc.startOffset;
    return {
      file: this.fileName,
      start: { line: loc.startLine, column: loc.startColumn ?? 1, offset: loc.startOffset },
      end: {
        line: loc.endLine ?? loc.startLine,
        column: (loc.endColumn ?? loc.startColumn ?? 1) + 1,
        offset: endOffset + 1,
      },
    };
  }

  private tokenRange(token: IToken | undefined): SourceRange {
    if (!token || !Number.isFinite(token.startOffset) || token.startLine === undefined) {
      return fileStart(this.fileName);
    }
    return {
      file: this.fileName,
      start: { line: token.startLine, column: token.startColumn ?? 1, offset: token.startOffset },
      end: {
        line: token.endLine ?? token.startLine,
        column: (token.endColumn ?? 1) + 1,
        offset: (token.endOffset ?? token.startOffset) + 1,
      },
    };
  }

  private ident(token: IToken | undefined): A.Ident {
    return { name: token?.image ?? "", range: this.tokenRange(token) };
  }

  build(node: C.FileCstNode): A.FileAst {
    const ch = node.children;
    return {
      file: this.fileName,
      uses: (ch.useDecl ?? []).map((u) => ({
        path: (u.children.StringLiteral?.[0]?.image ?? '""').slice(1, -1),
        range: this.range(u),
      })),
      blocks: (ch.blockDecl ?? []).map((b) => this.blockDecl(b)),
      networks: (ch.networkDecl ?? []).map((n) => ({
        name: this.ident(n.children.Identifier?.[0]),
        body: this.body(n.children.body?.[0]),
        range: this.range(n),
      })),
    };
  }

  private blockDecl(node: C.BlockDeclCstNode): A.BlockDecl {
    const ch = node.children;
    return {
      name: this.ident(ch.Identifier?.[0]),
      params: (ch.param ?? []).map((p) => {
        const dflt = p.children.expr?.[0];
        return {
          name: this.ident(p.children.Identifier?.[0]),
          ...(dflt ? { default: this.expr(dflt) } : {}),
        };
      }),
      body: this.body(ch.body?.[0]),
      range: this.range(node),
    };
  }

  private body(node: C.BodyCstNode | undefined): A.Statement[] {
    return (node?.children.statement ?? []).flatMap((s) => this.statement(s) ?? []);
  }

  private statement(node: C.StatementCstNode): A.Statement | undefined {
    const ch = node.children;
    const range = this.range(node);
    const input = ch.inputDecl?.[0];
    if (input) {
      const shape = input.children.expr?.[0];
      return {
        kind: "input",
        name: this.ident(input.children.Identifier?.[0]),
        shape: shape ? this.expr(shape) : { kind: "list", items: [], range },
        range,
      };
    }
    const output = ch.outputDecl?.[0];
    if (output) {
      return {
        kind: "output",
        names: (output.children.Identifier ?? []).map((t) => this.ident(t)),
        range,
      };
    }
    const let_ = ch.letDecl?.[0];
    if (let_) {
      return {
        kind: "let",
        name: this.ident(let_.children.Identifier?.[0]),
        chain: this.chain(let_.children.chain?.[0]),
        range,
      };
    }
    const chain = ch.chain?.[0];
    return chain && { kind: "chain", chain: this.chain(chain), range };
  }

  private chain(node: C.ChainCstNode | undefined): A.Chain {
    return {
      steps: (node?.children.step ?? []).flatMap((s) => this.step(s) ?? []),
      range: this.range(node),
    };
  }

  private step(node: C.StepCstNode): A.Step | undefined {
    const ch = node.children;
    const op = this.stepOp(ch);
    if (!op) return undefined;
    const label = ch.Identifier?.[0];
    return { ...(label ? { label: this.ident(label) } : {}), op, range: this.range(node) };
  }

  private branches(nodes: readonly C.BranchCstNode[] | undefined): A.Branch[] {
    return (nodes ?? []).map((b) => ({
      body: this.body(b.children.body?.[0]),
      range: this.range(b),
    }));
  }

  private stepOp(ch: C.StepCstChildren): A.StepOp | undefined {
    const call = ch.call?.[0];
    if (call) {
      const args = call.children.LParen ? this.args(call.children.args?.[0]) : undefined;
      const branches = call.children.LBrace ? this.branches(call.children.branch) : undefined;
      return {
        kind: "call",
        callee: this.ident(call.children.Identifier?.[0]),
        ...(args ? { args } : {}),
        ...(branches ? { branches } : {}),
        range: this.range(call),
      };
    }
    const combine = ch.combine?.[0];
    if (combine) {
      const c = combine.children;
      const kw = c.Combinator?.[0];
      const combinator = kw?.image as A.Combinator;
      const base = { kind: "combine" as const, combinator, keyword: this.tokenRange(kw) };
      const range = this.range(combine);
      if (c.LBrace) return { ...base, branches: this.branches(c.branch), range };
      return { ...base, args: this.args(c.args?.[0]), range };
    }
    const repeat = ch.repeat?.[0];
    if (repeat) {
      const count = repeat.children.expr?.[0];
      const range = this.range(repeat);
      return {
        kind: "repeat",
        count: count ? this.expr(count) : { kind: "number", value: 0, integer: true, range },
        body: this.body(repeat.children.body?.[0]),
        range,
      };
    }
    const identity = ch.Identity?.[0];
    if (identity) return { kind: "identity", range: this.tokenRange(identity) };
    return undefined;
  }

  private args(node: C.ArgsCstNode | undefined): A.Arg[] {
    return (node?.children.arg ?? []).flatMap((a) => {
      const value = a.children.expr?.[0];
      if (!value) return [];
      const name = a.children.Identifier?.[0];
      return [
        {
          ...(name ? { name: this.ident(name) } : {}),
          value: this.expr(value),
          range: this.range(a),
        },
      ];
    });
  }

  // Binary chains: the CST keeps operands and operators in separate lists; operators are put
  // back in source order by offset, then folded left (all operators are left-associative).
  private expr(node: C.ExprCstNode): A.Expr {
    const ch = node.children;
    const ops = [...(ch.Plus ?? []), ...(ch.Minus ?? [])];
    return this.foldLeft(
      (ch.term ?? []).map((t) => this.term(t)),
      ops,
      this.range(node),
    );
  }

  private term(node: C.TermCstNode): A.Expr {
    const ch = node.children;
    const ops = [...(ch.Star ?? []), ...(ch.Slash ?? []), ...(ch.Percent ?? [])];
    return this.foldLeft(
      (ch.unary ?? []).map((u) => this.unary(u)),
      ops,
      this.range(node),
    );
  }

  private foldLeft(operands: A.Expr[], ops: IToken[], range: SourceRange): A.Expr {
    const sorted = [...ops].sort((a, b) => a.startOffset - b.startOffset);
    let acc: A.Expr | undefined = operands[0];
    if (!acc) return { kind: "number", value: 0, integer: true, range };
    for (let i = 1; i < operands.length; i++) {
      const right = operands[i]!;
      const op = (sorted[i - 1]?.image ?? "+") as A.BinaryOperator;
      acc = {
        kind: "binary",
        op,
        left: acc,
        right,
        range: { file: this.fileName, start: acc.range.start, end: right.range.end },
      };
    }
    return acc;
  }

  private unary(node: C.UnaryCstNode): A.Expr {
    const ch = node.children;
    const range = this.range(node);
    const inner = ch.unary?.[0];
    if (ch.Minus && inner) return { kind: "neg", operand: this.unary(inner), range };
    const primary = ch.primary?.[0];
    return primary ? this.primary(primary) : { kind: "number", value: 0, integer: true, range };
  }

  private primary(node: C.PrimaryCstNode): A.Expr {
    const ch = node.children;
    const range = this.range(node);
    const int = ch.Integer?.[0];
    if (int) return { kind: "number", value: Number(int.image), integer: true, range };
    const float = ch.Float?.[0];
    if (float) return { kind: "number", value: Number(float.image), integer: false, range };
    const str = ch.StringLiteral?.[0];
    if (str) return { kind: "string", value: str.image.slice(1, -1), range };
    const id = ch.Identifier?.[0];
    if (id) {
      if (!ch.LParen) return { kind: "name", name: id.image, range };
      return { kind: "call", callee: this.ident(id), args: this.args(ch.args?.[0]), range };
    }
    const items = (ch.expr ?? []).map((e) => this.expr(e));
    if (ch.LBracket) return { kind: "list", items, range };
    return items[0] ?? { kind: "number", value: 0, integer: true, range };
  }
}
