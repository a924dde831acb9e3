// Syntax highlighting for .cnn in CodeMirror: a small stream tokenizer (the real parser is the
// compiler's, which also supplies the diagnostics).
import { HighlightStyle, StreamLanguage, type StringStream } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import { keywordWords } from "../grammar/tokens.js";

const keywords = new Set([...keywordWords, "true", "false", "same", "valid"]);

export const cnnLanguage = StreamLanguage.define<{ afterArrow: boolean }>({
  name: "cnn",
  startState: () => ({ afterArrow: false }),
  token(stream: StringStream) {
    if (stream.eatSpace()) return null;
    if (stream.match("#")) {
      stream.skipToEnd();
      return "comment";
    }
    if (stream.match("->")) return "operator";
    if (stream.match(/^-?\d+(\.\d+)?([eE][-+]?\d+)?/)) return "number";
    if (stream.match(/^"[^"]*"?/)) return "string";
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/) as RegExpMatchArray | null;
    if (word) {
      const w = word[0];
      if (keywords.has(w)) return "keyword";
      if (stream.peek() === ":") return "labelName";
      if (stream.peek() === "=") return "attributeName";
      return "variableName";
    }
    stream.next();
    return "punctuation";
  },
  languageData: { commentTokens: { line: "#" } },
});

export const cnnHighlight = HighlightStyle.define([
  { tag: tags.keyword, color: "#7c3aed", fontWeight: "bold" },
  { tag: tags.comment, color: "#6b7280", fontStyle: "italic" },
  { tag: tags.number, color: "#b45309" },
  { tag: tags.string, color: "#047857" },
  { tag: tags.labelName, color: "#1d4ed8", fontWeight: "bold" },
  { tag: tags.attributeName, color: "#be123c" },
  { tag: tags.operator, color: "#374151" },
  { tag: tags.variableName, color: "#0f172a" },
]);
