// The abstract syntax of a `.cnn` file: what the user wrote, with a source range on every node
// so that later stages can point at it. Nothing here is evaluated; lowering gives it meaning.
import type { SourceRange } from "./diagnostics.js";

export interface Ident {
  readonly name: string;
  readonly range: SourceRange;
}

export interface FileAst {
  readonly file: string;
  readonly uses: readonly UseDecl[];
  readonly blocks: readonly BlockDecl[];
  readonly networks: readonly NetworkDecl[];
}

export interface UseDecl {
  readonly path: string;
  readonly range: SourceRange;
}

export interface BlockDecl {
  readonly name: Ident;
  readonly params: readonly Param[];
  readonly body: readonly Statement[];
  readonly range: SourceRange;
}

export interface Param {
  readonly name: Ident;
  readonly default?: Expr;
}

export interface NetworkDecl {
  readonly name: Ident;
  readonly body: readonly Statement[];
  readonly range: SourceRange;
}

export type Statement = InputDecl | OutputDecl | LetDecl | ChainStatement;

export interface InputDecl {
  readonly kind: "input";
  readonly name: Ident;
  readonly shape: Expr;
  readonly range: SourceRange;
}

export interface OutputDecl {
  readonly kind: "output";
  readonly names: readonly Ident[];
  readonly range: SourceRange;
}

export interface LetDecl {
  readonly kind: "let";
  readonly name: Ident;
  readonly chain: Chain;
  readonly range: SourceRange;
}

export interface ChainStatement {
  readonly kind: "chain";
  readonly chain: Chain;
  readonly range: SourceRange;
}

export interface Chain {
  readonly steps: readonly Step[];
  readonly range: SourceRange;
}

export interface Step {
  /** `name:` before the layer, naming it (and its weights) in the network. */
  readonly label?: Ident;
  readonly op: StepOp;
  readonly range: SourceRange;
}

export type StepOp = CallOp | CombineOp | RepeatOp | IdentityOp;

/** A layer, a block call, or (at the head of a chain, without parentheses) a named value. */
export interface CallOp {
  readonly kind: "call";
  readonly callee: Ident;
  /** `undefined` when written without parentheses (`relu`), `[]` for `relu()`. */
  readonly args?: readonly Arg[];
  /** `maximum { branch {...} ... }`: branches, which only a merge takes. */
  readonly branches?: readonly Branch[];
  readonly range: SourceRange;
}

/** The merges, each the op of the same name: the keywords (tokens.ts's Combinator
 * category) and the merges that are calls to lowering (`maximum`, `minimum`, `div`). */
export type Combinator = "concat" | "add" | "mul" | "maximum" | "minimum" | "div";

export interface CombineOp {
  readonly kind: "combine";
  readonly combinator: Combinator;
  readonly keyword: SourceRange;
  /** `concat(a, b)`: named values. */
  readonly args?: readonly Arg[];
  /** `concat { branch {...} ... }`: branches from the incoming value. */
  readonly branches?: readonly Branch[];
  readonly range: SourceRange;
}

export interface Branch {
  readonly body: readonly Statement[];
  readonly range: SourceRange;
}

export interface RepeatOp {
  readonly kind: "repeat";
  readonly count: Expr;
  readonly body: readonly Statement[];
  readonly range: SourceRange;
}

export interface IdentityOp {
  readonly kind: "identity";
  readonly range: SourceRange;
}

export interface Arg {
  readonly name?: Ident;
  readonly value: Expr;
  readonly range: SourceRange;
}

export type Expr = NumberLit | StringLit | NameRef | CallExpr | NegExpr | BinaryExpr | ListExpr;

export interface NumberLit {
  readonly kind: "number";
  readonly value: number;
  /** Written without a decimal point or exponent: an integer. */
  readonly integer: boolean;
  readonly range: SourceRange;
}

export interface StringLit {
  readonly kind: "string";
  readonly value: string;
  readonly range: SourceRange;
}

export interface NameRef {
  readonly kind: "name";
  readonly name: string;
  readonly range: SourceRange;
}

export interface CallExpr {
  readonly kind: "call";
  readonly callee: Ident;
  readonly args: readonly Arg[];
  readonly range: SourceRange;
}

export interface NegExpr {
  readonly kind: "neg";
  readonly operand: Expr;
  readonly range: SourceRange;
}

export type BinaryOperator = "+" | "-" | "*" | "/" | "%";

export interface BinaryExpr {
  readonly kind: "binary";
  readonly op: BinaryOperator;
  readonly left: Expr;
  readonly right: Expr;
  readonly range: SourceRange;
}

export interface ListExpr {
  readonly kind: "list";
  readonly items: readonly Expr[];
  readonly range: SourceRange;
}
