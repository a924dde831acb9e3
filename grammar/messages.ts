// The wording of every syntax error, in one place (chevrotain's message-provider hook).
import { EOF, tokenLabel, type IParserErrorMessageProvider, type IToken } from "chevrotain";

/** How a found token is named in a message: its text, or what it is when the text is blank. */
export function describeToken(token: IToken): string {
  if (token.tokenType === EOF) return "the end of the file";
  if (/^[\r\n]+$/.test(token.image)) return "the end of the line";
  return `'${token.image}'`;
}

/** What a rule stands for, for "expected ..." when several alternatives were possible. */
const ruleMeaning: Record<string, string> = {
  file: "'network', 'block' or 'use'",
  statement: "a statement (a layer, 'input', 'output' or 'let')",
  chain: "a layer",
  step: "a layer, a block call, 'concat', 'add', 'mul', 'repeat' or 'identity'",
  combine: "'(' with named values or '{' with branches",
  expr: "a value",
  term: "a value",
  unary: "a value",
  primary: "a value (a number, a name, a list '[...]' or '(...)')",
  arg: "an argument",
};

function alternatives(paths: readonly (readonly { name: string }[])[]): string {
  const firsts = new Set<string>();
  for (const path of paths) {
    const first = path[0];
    if (first) firsts.add(tokenLabel(first as Parameters<typeof tokenLabel>[0]));
  }
  const list = [...firsts];
  if (list.length <= 1) return list[0] ?? "something else";
  return `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
}

export const parserMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual }) {
    return `expected ${tokenLabel(expected)} but found ${describeToken(actual)}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `unexpected ${describeToken(firstRedundant)}: expected 'network', 'block' or 'use'`;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, ruleName }) {
    const found = actual[0] ? describeToken(actual[0]) : "the end of the file";
    const wanted = ruleMeaning[ruleName] ?? alternatives(expectedPathsPerAlt.flat());
    return `expected ${wanted} but found ${found}`;
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const found = actual[0] ? describeToken(actual[0]) : "the end of the file";
    const wanted = ruleMeaning[ruleName] ?? alternatives(expectedIterationPaths);
    return `expected at least one ${wanted} but found ${found}`;
  },
};
