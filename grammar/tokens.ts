// The `.cnn` vocabulary. Token order matters to chevrotain's lexer: the first pattern that
// matches wins, so
//  - keywords come before Identifier, and each has `longer_alt: Identifier` so that an
//    identifier that merely starts with a keyword (`networks`, `addition`) stays one identifier;
//  - Float comes before Integer (`1.5` must not lex as `1` then `.5`);
//  - Arrow comes before Minus (`->` is one token, not `-` then `>`).
import { createToken, Lexer, type TokenType } from "chevrotain";

export const Identifier = createToken({
  name: "Identifier",
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  label: "a name",
});

/**
 * The contract's merge keywords (`concat(a, b)`, `add { branch {...} ... }`): one category, so
 * that the parser and the AST take each as the op of the same name. (cnnc's other merges,
 * `maximum`, `minimum`, `div`, are not reserved: calls that lowering recognises.)
 */
export const Combinator = createToken({
  name: "Combinator",
  pattern: Lexer.NA,
  label: "'concat', 'add' or 'mul'",
});

function keyword(word: string, categories: TokenType[] = []): TokenType {
  return createToken({
    name: word[0]!.toUpperCase() + word.slice(1),
    pattern: new RegExp(word),
    longer_alt: Identifier,
    label: `'${word}'`,
    categories,
  });
}

export const Network = keyword("network");
export const Block = keyword("block");
export const Input = keyword("input");
export const Output = keyword("output");
export const Let = keyword("let");
export const Repeat = keyword("repeat");
export const Branch = keyword("branch");
export const Concat = keyword("concat", [Combinator]);
export const Add = keyword("add", [Combinator]);
export const Mul = keyword("mul", [Combinator]);
export const Identity = keyword("identity");
export const Use = keyword("use");

export const Float = createToken({
  name: "Float",
  pattern: /(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+/,
  label: "a number",
});
export const Integer = createToken({ name: "Integer", pattern: /\d+/, label: "an integer" });
export const StringLiteral = createToken({
  name: "StringLiteral",
  pattern: /"[^"\n\r]*"/,
  label: "a string",
});

export const Arrow = createToken({ name: "Arrow", pattern: /->/, label: "'->'" });
export const LBrace = createToken({ name: "LBrace", pattern: /{/, label: "'{'" });
export const RBrace = createToken({ name: "RBrace", pattern: /}/, label: "'}'" });
export const LParen = createToken({ name: "LParen", pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: "RParen", pattern: /\)/, label: "')'" });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: "RBracket", pattern: /]/, label: "']'" });
export const Comma = createToken({ name: "Comma", pattern: /,/, label: "','" });
export const Colon = createToken({ name: "Colon", pattern: /:/, label: "':'" });
export const Equals = createToken({ name: "Equals", pattern: /=/, label: "'='" });
export const Plus = createToken({ name: "Plus", pattern: /\+/, label: "'+'" });
export const Minus = createToken({ name: "Minus", pattern: /-/, label: "'-'" });
export const Star = createToken({ name: "Star", pattern: /\*/, label: "'*'" });
export const Slash = createToken({ name: "Slash", pattern: /\//, label: "'/'" });
export const Percent = createToken({ name: "Percent", pattern: /%/, label: "'%'" });

// Statement separators. Newlines are significant; the layout filter (layout.ts) drops the
// ones that do not end a statement before the parser sees them.
export const Separator = createToken({
  name: "Separator",
  pattern: Lexer.NA,
  label: "a new line or ';'",
});
export const Newline = createToken({
  name: "Newline",
  pattern: /\r\n|\r|\n/,
  line_breaks: true,
  categories: [Separator],
  label: "a new line",
});
export const Semicolon = createToken({
  name: "Semicolon",
  pattern: /;/,
  categories: [Separator],
  label: "';'",
});

export const Comment = createToken({
  name: "Comment",
  pattern: /(?:#|\/\/)[^\n\r]*/,
  group: Lexer.SKIPPED,
});
export const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\f\v]+/,
  group: Lexer.SKIPPED,
});

export const keywords: readonly TokenType[] = [
  Network,
  Block,
  Input,
  Output,
  Let,
  Repeat,
  Branch,
  Concat,
  Add,
  Mul,
  Identity,
  Use,
];

/** The reserved words, as written. */
export const keywordWords: readonly string[] = keywords.map((t) => t.name.toLowerCase());

// Comment precedes Slash so that `//` starts a comment rather than two divisions.
export const allTokens: readonly TokenType[] = [
  WhiteSpace,
  Comment,
  Newline,
  Semicolon,
  Separator,
  Combinator,
  ...keywords,
  Identifier,
  Float,
  Integer,
  StringLiteral,
  Arrow,
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Colon,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
];

export const cnnLexer = new Lexer(allTokens as TokenType[], {
  positionTracking: "full",
  ensureOptimizations: false,
});
