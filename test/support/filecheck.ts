// A small FileCheck (LLVM's): checks IR text against `// CHECK:` lines of a test case.
//   CHECK: text          the next line containing text, after the previous match
//   CHECK-NEXT: text     the line right after the previous match contains text
//   CHECK-LABEL: text    like CHECK; cases anchor on it
//   CHECK-SAME: text     the line of the previous match also contains text
//   CHECK-NOT: text      no line between the previous match and the next one contains text
// Any other CHECK-something is an error, so that a misspelt directive cannot pass silently.
export function fileCheck(output: string, checks: string): string[] {
  const lines = output.split("\n");
  const directives = [...checks.matchAll(/\/\/\s*(CHECK[\w-]*):\s?(.*)$/gm)].map((m) => ({
    kind: m[1]!,
    text: m[2]!.trim(),
  }));
  const problems: string[] = [];
  const known = ["CHECK", "CHECK-NEXT", "CHECK-LABEL", "CHECK-NOT", "CHECK-SAME"];
  for (const d of directives)
    if (!known.includes(d.kind)) problems.push(`unknown directive ${d.kind}`);
  let at = -1;
  let pendingNot: string[] = [];
  const notsBetween = (from: number, to: number): void => {
    for (const t of pendingNot) {
      for (let i = from + 1; i < to; i++) {
        if (lines[i]!.includes(t))
          problems.push(`CHECK-NOT: '${t}' found on line ${i + 1}: ${lines[i]}`);
      }
    }
    pendingNot = [];
  };
  for (const d of directives) {
    if (d.kind === "CHECK-NOT") {
      pendingNot.push(d.text);
      continue;
    }
    if (d.kind === "CHECK-SAME") {
      if (!lines[at]?.includes(d.text))
        problems.push(`CHECK-SAME: '${d.text}' not on line ${at + 1}: ${lines[at]}`);
      continue;
    }
    let found = -1;
    if (d.kind === "CHECK-NEXT") found = lines[at + 1]?.includes(d.text) ? at + 1 : -1;
    else found = lines.findIndex((l, i) => i > at && l.includes(d.text));
    if (found < 0) {
      problems.push(`${d.kind}: '${d.text}' not found after line ${at + 1}`);
      continue;
    }
    notsBetween(at, found);
    at = found;
  }
  notsBetween(at, lines.length);
  return problems;
}
