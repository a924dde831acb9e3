// The compiler as a library, as a user imports it: `import { compile, check, summarize } from
// "cnnc"` (the package's own export map, resolved by Node from the built dist/).
import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";

it("compile, check and summarize from 'cnnc' (the README's example)", () => {
  const script = `
    import { compile, check, summarize, CompileError } from "cnnc";
    import { loadModel } from "cnnc/runtime";
    import { readFileSync } from "node:fs";
    const source = readFileSync("examples/lenet5.cnn", "utf8");
    const { bundle, summary, diagnostics, plan } = compile(source, { opt: 2, seed: 1 });
    const bad = check("network N {\\n  input x: [1, 4, 4]\\n  conv(2, 7)\\n}");
    let refused = "";
    try { compile(source, { opt: 3 }); } catch (e) { refused = e instanceof CompileError ? e.message : "?"; }
    console.log(JSON.stringify({
      bytes: bundle.length > 0,
      dispatches: plan.dispatches.length,
      params: summary.totals.params,
      diagnostics: diagnostics.length,
      bad: bad.map((d) => [d.severity, d.message, d.range.start.line]),
      macs: summarize(source).totals.macs,
      refused,
      runtime: typeof loadModel,
    }));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({
    bytes: true,
    dispatches: expect.any(Number),
    params: 61_706,
    diagnostics: 0,
    bad: [["error", "conv: kernel 7x7 is larger than the input 4x4 (layer 'conv_1')", 3]],
    macs: 416_520,
    refused: "-O takes 0, 1 or 2, got '3'",
    runtime: "function",
  });
});
