// Reads `# expected-error@+1 {{text}}` annotations from a .cnn fixture (MLIR's -verify-diagnostics
// convention): the diagnostic of that severity must be on the line the offset points to, and
// its message must contain the text.
export interface Expectation {
  readonly severity: "error" | "warning";
  readonly line: number;
  readonly text: string;
}

export function readExpectations(source: string): Expectation[] {
  const out: Expectation[] = [];
  source.split(/\r?\n/).forEach((line, i) => {
    const m = /#\s*expected-(error|warning)@([+-]\d+)\s*\{\{(.*)\}\}/.exec(line);
    if (m) {
      out.push({
        severity: m[1] as "error" | "warning",
        line: i + 1 + Number(m[2]),
        text: m[3]!,
      });
    }
  });
  return out;
}
