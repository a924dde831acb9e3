import { describe, expect, it } from "vitest";
import {
  IrParseError,
  parseIr,
  printIr,
  verify,
  verifyProblems,
  VerifyError,
} from "../compiler/ir/index.js";

const good = `graph Tiny {
  input %x : f32[N,3,8,8]
  weight @c.weight : f32[4,3,3,3]
  weight @c.bias : f32[4]
  weight @bn.gamma : f32[4]
  weight @bn.beta : f32[4]
  weight @bn.mean : f32[4]
  weight @bn.var : f32[4]
  %c = conv2d(%x, @c.weight, @c.bias) {filters=4 k=[3,3] s=[2,2] p=[0,0,1,1] d=[1,1] g=1 padmode=zeros bias=true} : f32[N,4,4,4]
  %bn = batchnorm(%c, @bn.gamma, @bn.beta, @bn.mean, @bn.var) {eps=0.00001} : f32[N,4,4,4]
  %r = leaky_relu(%bn) {alpha=0.2} : f32[N,4,4,4]
  %a = add(%r, %c) : f32[N,4,4,4]
  %g = globalavgpool(%a) : f32[N,4,1,1]
  %f = flatten(%g) : f32[N,4]
  output logits = %f
}
`;

describe("IR text", () => {
  it("round-trips exactly and verifies", () => {
    const g = verify(parseIr(good));
    expect(printIr(g)).toBe(good);
    expect(g.nodes.map((n) => n.op)).toEqual([
      "conv2d",
      "batchnorm",
      "leaky_relu",
      "add",
      "globalavgpool",
      "flatten",
    ]);
    const r = g.nodes[2]!;
    expect(r.op === "leaky_relu" && r.attrs.alpha).toBe(0.2);
  });

  it("reports where the text is malformed", () => {
    const cases: [string, RegExp][] = [
      [good.replace("conv2d(", "convolve("), /^9:\d+: unknown op 'convolve'/],
      [good.replace(" g=1 ", " "), /lacks attribute 'g'/],
      [good.replace("padmode=zeros", "padmode=wrap"), /expected one of zeros, replicate, reflect/],
      [good.replace("f32[N,4,4,4]\n  %bn", "f32[N,4,4\n  %bn"), /expected ','|expected ']'/],
      [good.replace("eps=0.00001", "eps=0.00001 beta=2"), /batchnorm has no attribute 'beta'/],
      ["graph G {\n  frob %x\n}\n", /^2:3: expected input, weight, output or a node/],
    ];
    for (const [text, message] of cases) {
      expect(() => parseIr(text)).toThrow(IrParseError);
      expect(() => parseIr(text)).toThrow(message);
    }
  });
});

describe("verifier", () => {
  it("names every broken invariant", () => {
    const broken = good
      .replace("f32[N,4,4,4]\n  %bn", "f32[N,4,5,5]\n  %bn") // wrong inferred shape
      .replace("weight @c.bias : f32[4]", "weight @c.bias : f32[5]") // wrong weight shape
      .replace("%a = add(%r, %c)", "%a = add(%r, %zz)") // undefined value
      .replace("output logits = %f", "output logits = %nothing")
      .replace("weight @bn.var : f32[4]", "weight @bn.var : f32[4]\n  weight @spare : f32[1]");
    const problems = verifyProblems(parseIr(broken));
    expect(problems).toEqual([
      "%c (conv2d): type says [4,5,5], inputs give [4,4,4]",
      "%c (conv2d): weight @c.bias (bias) is [5], expected [4]",
      "%bn (batchnorm): type says [4,4,4], inputs give [4,5,5]",
      "%a (add): uses %zz before it is defined",
      "weight @spare is declared but no node uses it",
      "output logits refers to undefined %nothing",
    ]);
    expect(() => verify(parseIr(broken))).toThrow(VerifyError);
  });

  it("checks arity, attribute values and shape rules", () => {
    const text = good
      .replace("%a = add(%r, %c)", "%a = add(%r)")
      .replace("s=[2,2]", "s=[2,-1]")
      .replace("%g = globalavgpool(%a) : f32[N,4,1,1]", "%g = globalavgpool(%f0) : f32[N,4,1,1]");
    const problems = verifyProblems(parseIr(text));
    expect(problems).toContain("%a (add): takes two or more inputs, has 1");
    expect(
      problems.some((p) => p.startsWith("%c (conv2d): attribute s = 2,-1 is not a valid pair")),
    ).toBe(true);
    expect(problems).toContain("%g (globalavgpool): uses %f0 before it is defined");
  });
});
