// Diagnostics are data: every stage (lexer, parser, lowering) returns them rather than throwing,
// and one formatter renders them as `file:line:col: error: message`, the source line and a caret.
import type { IToken } from "chevrotain";

/** A point in a source file; `line` and `column` count from 1, `offset` from 0. */
export interface Position {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

/** A span of source text; `end` is exclusive. */
export interface SourceRange {
  readonly file: string;
  readonly start: Position;
  readonly end: Position;
}

export type Severity = "error" | "warning";

export interface Diagnostic {
  /** A stable, greppable identifier: `syntax`, `unknown-layer`, `shape`, ... */
  readonly code: string;
  readonly severity: Severity;
  readonly range: SourceRange;
  readonly message: string;
  /** Further locations that explain the error, e.g. where a name was first defined. */
  readonly notes?: readonly { readonly range: SourceRange; readonly message: string }[];
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/** The range a token covers; tokens made up by parser recovery have no position (NaN). */
export function tokenRange(file: string, token: IToken): SourceRange | undefined {
  if (!Number.isFinite(token.startOffset) || token.startLine === undefined) return undefined;
  return {
    file,
    start: { line: token.startLine, column: token.startColumn ?? 1, offset: token.startOffset },
    end: {
      line: token.endLine ?? token.startLine,
      column: (token.endColumn ?? token.startColumn ?? 1) + 1,
      offset: (token.endOffset ?? token.startOffset) + 1,
    },
  };
}

/** The zero-width range just after a token: where something missing after it belongs. */
export function afterToken(file: string, token: IToken): SourceRange | undefined {
  const r = tokenRange(file, token);
  return r && { file, start: r.end, end: r.end };
}

export function spanRanges(a: SourceRange, b: SourceRange): SourceRange {
  return { file: a.file, start: a.start, end: b.end };
}

/** The range at the very start of a file, for errors that have no better place. */
export function fileStart(file: string): SourceRange {
  const p = { line: 1, column: 1, offset: 0 };
  return { file, start: p, end: p };
}

/** The offsets where each line starts, for the last few sources formatted: formatting many
 * diagnostics of one file costs one scan of it, not one per diagnostic. */
const lineStartCache = new Map<string, readonly number[]>();

function lineStarts(text: string): readonly number[] {
  const cached = lineStartCache.get(text);
  if (cached) return cached;
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
  }
  if (lineStartCache.size >= 4) lineStartCache.clear();
  lineStartCache.set(text, starts);
  return starts;
}

function sourceLine(text: string, line: number): string | undefined {
  const starts = lineStarts(text);
  const start = starts[line - 1];
  if (start === undefined) return undefined;
  const end = starts[line] ?? text.length;
  return text.slice(start, end).replace(/\r?\n$|\r$/, "");
}

function excerpt(range: SourceRange, text: string | undefined): string[] {
  if (text === undefined) return [];
  const line = sourceLine(text, range.start.line);
  if (line === undefined) return [];
  const num = String(range.start.line);
  const gutter = " ".repeat(num.length);
  const col = Math.max(1, Math.min(range.start.column, line.length + 1));
  const endCol =
    range.end.line === range.start.line
      ? Math.min(range.end.column, line.length + 1)
      : line.length + 1;
  const width = Math.max(1, endCol - col);
  // Keep tabs in the padding so the caret lines up under tab-indented source.
  const pad = line.slice(0, col - 1).replace(/[^\t]/g, " ");
  return [` ${num} | ${line}`, ` ${gutter} | ${pad}^${"~".repeat(width - 1)}`];
}

export function formatLocation(range: SourceRange): string {
  return `${range.file}:${range.start.line}:${range.start.column}`;
}

/**
 * Renders one diagnostic the way compilers do:
 *
 *     net.cnn:7:7: error: conv: kernel 7x7 is larger than the padded input 5x5 (layer 'c3')
 *      7 |   c3: conv(16, 7)
 *        |       ^~~~~~~~~~~
 */
export function formatDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, string>): string {
  const out = [`${formatLocation(d.range)}: ${d.severity}: ${d.message}`];
  out.push(...excerpt(d.range, sources.get(d.range.file)));
  for (const note of d.notes ?? []) {
    out.push(`${formatLocation(note.range)}: note: ${note.message}`);
    out.push(...excerpt(note.range, sources.get(note.range.file)));
  }
  return out.join("\n");
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return (
    a.range.file.localeCompare(b.range.file) ||
    a.range.start.offset - b.range.start.offset ||
    a.message.localeCompare(b.message)
  );
}
