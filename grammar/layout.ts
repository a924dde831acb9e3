// Newline handling, done between the lexer and the parser (as Python's tokenizer does with
// implicit line joining) so that the grammar only ever sees one separator between statements.
// A new line ends a statement unless the statement clearly goes on:
//  - the line ends in a token that needs something after it: `->` `,` `=` `:` `(` `[` `{` or
//    a binary operator (an argument list spread over lines breaks after its commas);
//  - the next line starts with a token that cannot start a statement: `->` `)` `]` `}` `,`.
// The rule looks only at the two tokens around the new line, never at bracket depth, so an
// unclosed `(` cannot swallow the rest of the file: the parser reports it on its own line.
// Runs of separators collapse to one; separators at the start or end of the file are dropped.
import { tokenMatcher, type IToken, type TokenType } from "chevrotain";
import {
  Arrow,
  Colon,
  Comma,
  Equals,
  LBrace,
  LBracket,
  LParen,
  Minus,
  Percent,
  Plus,
  RBrace,
  RBracket,
  RParen,
  Separator,
  Slash,
  Star,
} from "./tokens.js";

const continuesAfter: readonly TokenType[] = [
  Arrow,
  Comma,
  Equals,
  Colon,
  LParen,
  LBracket,
  LBrace,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
];
const continuesBefore: readonly TokenType[] = [Arrow, RParen, RBracket, RBrace, Comma];

function isAny(token: IToken, types: readonly TokenType[]): boolean {
  return types.some((t) => tokenMatcher(token, t));
}

export function applyLayout(tokens: readonly IToken[]): IToken[] {
  const out: IToken[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (!tokenMatcher(tok, Separator)) {
      out.push(tok);
      continue;
    }
    let j = i + 1;
    while (j < tokens.length && tokenMatcher(tokens[j]!, Separator)) j++;
    const prev = out[out.length - 1];
    const next = tokens[j];
    const drop =
      prev === undefined ||
      next === undefined ||
      tokenMatcher(prev, Separator) ||
      isAny(prev, continuesAfter) ||
      isAny(next, continuesBefore);
    if (!drop) out.push(tok);
  }
  return out;
}
