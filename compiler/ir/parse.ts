// Reads the text form printed by print.ts back into a graph. Used by pass tests (IR text in,
// IR text out) and `--dump-ir` round trips. Errors name the line and column.
import type { Graph, GraphInput, GraphOutput, Node, Shape, WeightDecl } from "./graph.js";
import { isOpKind, opDef, type AttrKind } from "../ops/index.js";
import { CompileError } from "../errors.js";

export class IrParseError extends CompileError {}

type Tok =
  | {
      kind: "word" | "value" | "weight" | "number" | "punct";
      text: string;
      line: number;
      col: number;
    }
  | { kind: "eol"; text: ""; line: number; col: number };

function tokenize(text: string): Tok[] {
  const toks: Tok[] = [];
  const re =
    /(\/\/[^\n]*)|([ \t\r]+)|(\n)|(%[A-Za-z0-9_.]+)|(@[A-Za-z0-9_.]+)|(-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_.]*)|([{}()[\],=:])/y;
  let line = 1;
  let lineStart = 0;
  re.lastIndex = 0;
  while (re.lastIndex < text.length) {
    const at = re.lastIndex;
    const m = re.exec(text);
    const col = at - lineStart + 1;
    if (!m) throw new IrParseError(`${line}:${col}: unexpected character '${text[at]}'`);
    if (m[3]) {
      toks.push({ kind: "eol", text: "", line, col });
      line++;
      lineStart = re.lastIndex;
    } else if (m[4]) toks.push({ kind: "value", text: m[4].slice(1), line, col });
    else if (m[5]) toks.push({ kind: "weight", text: m[5].slice(1), line, col });
    else if (m[6]) toks.push({ kind: "number", text: m[6], line, col });
    else if (m[7]) toks.push({ kind: "word", text: m[7], line, col });
    else if (m[8]) toks.push({ kind: "punct", text: m[8], line, col });
  }
  toks.push({ kind: "eol", text: "", line, col: 1 });
  return toks;
}

class Reader {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[Math.min(this.i, this.toks.length - 1)]!;
  }

  fail(message: string, tok: Tok = this.peek()): never {
    throw new IrParseError(`${tok.line}:${tok.col}: ${message}`);
  }

  next(kind?: Tok["kind"], text?: string): Tok {
    const t = this.peek();
    if ((kind && t.kind !== kind) || (text !== undefined && t.text !== text)) {
      const wanted =
        text !== undefined ? `'${text}'` : kind === "eol" ? "end of line" : `a ${kind}`;
      this.fail(`expected ${wanted}, found ${t.kind === "eol" ? "end of line" : `'${t.text}'`}`);
    }
    this.i++;
    return t;
  }

  at(kind: Tok["kind"], text?: string): boolean {
    const t = this.peek();
    return t.kind === kind && (text === undefined || t.text === text);
  }

  skipBlankLines(): void {
    while (this.at("eol") && this.i < this.toks.length - 1) this.i++;
  }

  number(): number {
    const t = this.next("number");
    return Number(t.text);
  }

  list(): number[] {
    this.next("punct", "[");
    const items: number[] = [];
    while (!this.at("punct", "]")) {
      if (items.length) this.next("punct", ",");
      items.push(this.number());
    }
    this.next("punct", "]");
    return items;
  }

  tensorType(batched: boolean): Shape {
    const t = this.next("word");
    if (t.text !== "f32") this.fail(`unsupported element type '${t.text}'`, t);
    this.next("punct", "[");
    if (batched) {
      this.next("word", "N");
      if (!this.at("punct", "]")) this.next("punct", ",");
    }
    const dims: number[] = [];
    while (!this.at("punct", "]")) {
      if (dims.length) this.next("punct", ",");
      dims.push(this.number());
    }
    this.next("punct", "]");
    return dims;
  }
}

function attrValue(r: Reader, kind: AttrKind): unknown {
  if (kind === "dims") {
    const items = r.list();
    if (items.length < 1 || items.length > 3) r.fail("expected 1 to 3 sizes");
    return items;
  }
  if (kind === "pair" || kind === "quad") {
    const items = r.list();
    if (items.length !== (kind === "pair" ? 2 : 4))
      r.fail(`expected ${kind === "pair" ? 2 : 4} values`);
    return items;
  }
  if (kind === "int" || kind === "float") return r.number();
  const word = r.next("word");
  if (kind === "bool") {
    if (word.text !== "true" && word.text !== "false") r.fail(`expected true or false`, word);
    return word.text === "true";
  }
  if (!kind.includes(word.text)) r.fail(`expected one of ${kind.join(", ")}`, word);
  return word.text;
}

function node(r: Reader, name: string): Node {
  r.next("punct", "=");
  const opTok = r.next("word");
  if (!isOpKind(opTok.text)) r.fail(`unknown op '${opTok.text}'`, opTok);
  const op = opTok.text;
  r.next("punct", "(");
  const inputs: string[] = [];
  const weights: string[] = [];
  while (!r.at("punct", ")")) {
    if (inputs.length + weights.length) r.next("punct", ",");
    if (r.at("weight")) weights.push(r.next("weight").text);
    else inputs.push(r.next("value").text);
  }
  r.next("punct", ")");
  const schema = opDef(op).attrs as Readonly<Record<string, AttrKind>>;
  const attrs: Record<string, unknown> = {};
  if (r.at("punct", "{")) {
    r.next("punct", "{");
    while (!r.at("punct", "}")) {
      const key = r.next("word");
      const kind = schema[key.text];
      if (!kind) r.fail(`${op} has no attribute '${key.text}'`, key);
      r.next("punct", "=");
      attrs[key.text] = attrValue(r, kind);
    }
    r.next("punct", "}");
  }
  const defaults = (opDef(op).defaults ?? {}) as Readonly<Record<string, unknown>>;
  for (const key of Object.keys(schema)) {
    if (!(key in attrs) && key in defaults) attrs[key] = defaults[key];
    if (!(key in attrs)) r.fail(`${op} '${name}' lacks attribute '${key}'`);
  }
  r.next("punct", ":");
  const shape = r.tensorType(true);
  return { name, op, inputs, weights, attrs, shape } as Node;
}

/** Parses IR text. Throws IrParseError; the result is not verified (call `verify`). */
export function parseIr(text: string): Graph {
  const r = new Reader(tokenize(text));
  r.skipBlankLines();
  r.next("word", "graph");
  const name = r.next("word").text;
  r.next("punct", "{");
  r.next("eol");
  const inputs: GraphInput[] = [];
  const weights: WeightDecl[] = [];
  const nodes: Node[] = [];
  const outputs: GraphOutput[] = [];
  for (;;) {
    r.skipBlankLines();
    if (r.at("punct", "}")) break;
    if (r.at("value")) {
      nodes.push(node(r, r.next("value").text));
    } else {
      const kw = r.next("word");
      if (kw.text === "input") {
        const inputName = r.next("value").text;
        r.next("punct", ":");
        inputs.push({ name: inputName, shape: r.tensorType(true) });
      } else if (kw.text === "weight") {
        const weightName = r.next("weight").text;
        r.next("punct", ":");
        weights.push({ name: weightName, shape: r.tensorType(false) });
      } else if (kw.text === "output") {
        const outName = r.next("word").text;
        r.next("punct", "=");
        const value = r.next("value").text;
        // `: f32[N,C,L]`: the shape the source model declares (GraphOutput.declared)
        if (r.at("punct", ":")) {
          r.next("punct", ":");
          outputs.push({ name: outName, value, declared: r.tensorType(true) });
        } else outputs.push({ name: outName, value });
      } else {
        r.fail(`expected input, weight, output or a node, found '${kw.text}'`, kw);
      }
    }
    r.next("eol");
  }
  r.next("punct", "}");
  r.skipBlankLines();
  return { name, inputs, weights, nodes, outputs };
}
