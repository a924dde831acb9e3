// The front door of the grammar: text in, `{ ast, diagnostics }` out. Never throws on bad input.
import { EOF, type IRecognitionException, type IToken } from "chevrotain";
import { AstBuilder } from "./build-ast.js";
import type { FileAst } from "./ast.js";
import {
  afterToken,
  fileStart,
  tokenRange,
  type Diagnostic,
  type SourceRange,
} from "./diagnostics.js";
import { applyLayout } from "./layout.js";
import { CnnParser } from "./parser.js";
import type { FileCstNode } from "./cst.js";
import { cnnLexer, LBrace, LBracket, LParen, RBrace, RBracket, RParen } from "./tokens.js";

/** Brackets of any kind may nest this deep: far beyond any real network, well within the
 * parser's stack (chevrotain's recursive descent overflows it at a few hundred levels). */
export const maxNesting = 100;

export type * from "./ast.js";
export * from "./diagnostics.js";

let sharedParser: CnnParser | undefined;

/** One parser for the process: building one runs chevrotain's grammar analysis. */
function parser(): CnnParser {
  sharedParser ??= new CnnParser();
  return sharedParser;
}

export interface ParseResult {
  readonly ast: FileAst;
  readonly diagnostics: readonly Diagnostic[];
}

export function parseSource(text: string, file: string): ParseResult {
  const diagnostics: Diagnostic[] = [];
  const lexed = cnnLexer.tokenize(text);
  for (const e of lexed.errors) {
    const ch = text.slice(e.offset, e.offset + (e.length || 1));
    const line = e.line ?? 1;
    const column = e.column ?? 1;
    diagnostics.push({
      code: "syntax",
      severity: "error",
      message: `unexpected character '${ch}'`,
      range: {
        file,
        start: { line, column, offset: e.offset },
        end: { line, column: column + (e.length || 1), offset: e.offset + (e.length || 1) },
      },
    });
  }
  const tooDeep = tooDeeplyNested(lexed.tokens);
  if (tooDeep) {
    diagnostics.push({
      code: "too-large",
      severity: "error",
      message: `brackets nest deeper than ${maxNesting} levels`,
      range: tokenRange(file, tooDeep) ?? fileStart(file),
    });
    return { ast: { file, uses: [], blocks: [], networks: [] }, diagnostics };
  }
  const p = parser();
  p.input = applyLayout(lexed.tokens);
  const cst = p.file() as FileCstNode;
  for (const e of p.errors) diagnostics.push(syntaxDiagnostic(file, e, lexed.tokens));
  const ast = new AstBuilder(file).build(cst);
  return { ast, diagnostics };
}

/** The first opening bracket that nests deeper than `maxNesting`, if any. */
function tooDeeplyNested(tokens: readonly IToken[]): IToken | undefined {
  let depth = 0;
  for (const t of tokens) {
    const type = t.tokenType;
    if (type === LBrace || type === LParen || type === LBracket) {
      if (++depth > maxNesting) return t;
    } else if (type === RBrace || type === RParen || type === RBracket) {
      depth = Math.max(0, depth - 1);
    }
  }
  return undefined;
}

// Where to put a syntax error. Text after the last declaration goes on the first unexpected
// token. A closing bracket missing where the statement runs on to a later line goes on the
// bracket left open (the user's slip is there, not where the parser noticed). When something
// else is missing at the end of a line (the parser found the next line's first token, or the
// end of the file), the caret goes right after the last real token, where the user has to
// type; otherwise on the unexpected token itself.
function syntaxDiagnostic(
  file: string,
  e: IRecognitionException,
  tokens: readonly IToken[],
): Diagnostic {
  const found: IToken = e.token;
  const previous: IToken | undefined = (e as { previousToken?: IToken }).previousToken;
  const foundRange = tokenRange(file, found);
  if ((e.name === "NotAllInputParsedException" || /^expected EOF/.test(e.message)) && foundRange)
    return {
      code: "syntax",
      severity: "error",
      message: `expected 'network', 'block' or 'use' (or the end of the file) but found '${found.image}'`,
      range: foundRange,
    };
  // (not '{': a block spans lines by design, and a '}' missing is found where the parser is)
  const closer = /^expected '([)\]])'/.exec(e.message)?.[1];
  const opener = closer && unclosed(tokens, found, closer);
  if (opener && opener.startLine !== found.startLine) {
    const where = found.tokenType === EOF ? "the end of the file" : `line ${found.startLine}`;
    return {
      code: "syntax",
      severity: "error",
      message: `'${opener.image}' is not closed: ${e.message} (${where})`,
      range: tokenRange(file, opener) ?? fileStart(file),
    };
  }
  let range: SourceRange | undefined;
  const missingAtLineEnd =
    found.tokenType === EOF ||
    foundRange === undefined ||
    /^[\r\n]+$/.test(found.image) ||
    (previous?.endLine !== undefined && found.startLine !== previous.endLine);
  if (missingAtLineEnd && previous && !(previous.startOffset > found.startOffset))
    range = afterToken(file, previous);
  range ??= foundRange ?? fileStart(file);
  return { code: "syntax", severity: "error", message: e.message, range };
}

/** The innermost bracket still open before `at` whose closer is `closer`. */
function unclosed(tokens: readonly IToken[], at: IToken, closer: string): IToken | undefined {
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
  const open: IToken[] = [];
  for (const t of tokens) {
    if (Number.isFinite(at.startOffset) && t.startOffset >= at.startOffset) break;
    if (t.image === "(" || t.image === "[" || t.image === "{") open.push(t);
    else if (t.image in pairs && open.at(-1)?.image === pairs[t.image]) open.pop();
  }
  for (let i = open.length - 1; i >= 0; i--) if (open[i]!.image === pairs[closer]) return open[i];
  return undefined;
}
