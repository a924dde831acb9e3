import { describe, expect, it } from "vitest";
import { compileFrontend, memoryHost } from "../compiler/lower/index.js";
import { printNode, type Graph, type Node } from "../compiler/ir/index.js";
import { diagnosticsOf, lowerText } from "./support/compile.js";

function net(body: string, input = "[3, 32, 32]"): Graph {
  return lowerText(`network T {\n  input x: ${input}\n${body}\n}`);
}

function node(g: Graph, name: string): Node {
  const n = g.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}; have ${g.nodes.map((x) => x.name).join(", ")}`);
  return n;
}

function lastShape(body: string, input?: string): readonly number[] {
  const g = net(body, input);
  return g.nodes[g.nodes.length - 1]!.shape;
}

describe("convolution output sizes", () => {
  it("valid, explicit and asymmetric padding: floor((in + pb + pe - d(k-1) - 1) / s) + 1", () => {
    expect(lastShape("conv(8, 3)")).toEqual([8, 30, 30]);
    expect(lastShape("conv(8, 3, stride=2, pad=1)")).toEqual([8, 16, 16]);
    expect(lastShape("conv(8, [3, 5], stride=[1, 2], pad=[1, 2])")).toEqual([8, 32, 16]);
    expect(lastShape("conv(8, 3, pad=[0, 1, 2, 3])", "[3, 10, 12]")).toEqual([8, 10, 14]);
    expect(lastShape("conv(8, 3, stride=3)", "[3, 11, 7]")).toEqual([8, 3, 2]);
  });

  it("dilation widens the kernel to d(k-1)+1", () => {
    expect(lastShape("conv(8, 3, dilation=2)")).toEqual([8, 28, 28]);
    expect(lastShape("conv(8, 3, dilation=[2, 3], pad=same)", "[3, 17, 9]")).toEqual([8, 17, 9]);
  });

  it("same padding follows TensorFlow: ceil(in / s), the odd pixel bottom/right", () => {
    const g = net("conv(8, 3, stride=2, pad=same)", "[3, 32, 31]");
    const c = node(g, "conv_1");
    expect(c.shape).toEqual([8, 16, 16]);
    expect(c.op === "conv2d" && c.attrs.p).toEqual([0, 1, 1, 1]); // 32: total 1 -> bottom; 31: total 2
    expect(lastShape("conv(8, 4, pad=same)", "[3, 7, 7]")).toEqual([8, 7, 7]);
  });

  it("groups and depthwise convs", () => {
    const g = net("conv(16, 3, groups=4) -> dwconv(3, multiplier=2)", "[8, 10, 10]");
    expect(node(g, "conv_1").weights).toEqual(["conv_1.weight", "conv_1.bias"]);
    expect(g.weights.find((w) => w.name === "conv_1.weight")!.shape).toEqual([16, 2, 3, 3]);
    const dw = node(g, "dwconv_1");
    expect(dw.op === "conv2d" && dw.attrs.g).toBe(16);
    expect(dw.shape).toEqual([32, 6, 6]);
    expect(g.weights.find((w) => w.name === "dwconv_1.weight")!.shape).toEqual([32, 1, 3, 3]);
  });

  it("transposed convolution: (in-1)s - pb - pe + d(k-1) + output_pad + 1", () => {
    expect(lastShape("deconv(4, 4, stride=2, pad=1)", "[8, 7, 5]")).toEqual([4, 14, 10]);
    expect(lastShape("deconv(4, 3, stride=2, pad=1, output_pad=1)", "[8, 7, 7]")).toEqual([
      4, 14, 14,
    ]);
    expect(lastShape("deconv(4, 3, stride=2, pad=same)", "[8, 7, 7]")).toEqual([4, 14, 14]);
    const g = net("deconv(6, 3, groups=2)", "[4, 5, 5]");
    expect(g.weights.find((w) => w.name === "deconv_1.weight")!.shape).toEqual([4, 3, 3, 3]);
  });

  it("separable convs keep both weights and the bias", () => {
    const g = net("sepconv(16, 3, pad=same, multiplier=2)", "[8, 9, 9]");
    expect(g.weights.map((w) => [w.name, w.shape])).toEqual([
      ["sepconv_1.depthwise.weight", [16, 1, 3, 3]],
      ["sepconv_1.pointwise.weight", [16, 16, 1, 1]],
      ["sepconv_1.bias", [16]],
    ]);
  });

  it("replicate and reflect padding modes are carried to the IR", () => {
    const g = net("conv(4, 3, pad=1, padmode=reflect) -> conv(4, 3, pad=1, padmode=replicate)");
    expect(printNode(node(g, "conv_1"))).toContain("padmode=reflect");
    expect(printNode(node(g, "conv_2"))).toContain("padmode=replicate");
  });
});

describe("pooling and other layers", () => {
  it("stride defaults to the kernel; ceil rounds up but never starts a window in the padding", () => {
    expect(lastShape("maxpool(2)", "[3, 9, 9]")).toEqual([3, 4, 4]);
    expect(lastShape("maxpool(2, ceil=true)", "[3, 9, 9]")).toEqual([3, 5, 5]);
    expect(lastShape("maxpool(3, stride=2, ceil=true)", "[3, 112, 112]")).toEqual([3, 56, 56]);
    // PyTorch: 5 with k=2 s=2 p=1 ceil -> ceil((5+2-2)/2)+1 = 4, last start 6 >= 5+1 -> 3
    expect(lastShape("avgpool(2, stride=2, pad=1, ceil=true)", "[3, 5, 5]")).toEqual([3, 3, 3]);
    expect(lastShape("maxpool(3, stride=1, pad=same)", "[3, 7, 6]")).toEqual([3, 7, 6]);
  });

  it("global pooling, flatten, dense, upsample, pad, lrn, activations", () => {
    expect(lastShape("globalmaxpool", "[5, 7, 3]")).toEqual([5, 1, 1]);
    expect(lastShape("flatten -> dense(7) -> softmax", "[2, 3, 4]")).toEqual([7]);
    expect(lastShape("upsample(2) -> upsample([1, 3], mode=bilinear)", "[2, 3, 4]")).toEqual([
      2, 6, 24,
    ]);
    expect(lastShape("pad([1, 2, 3, 4], mode=reflect)", "[2, 5, 6]")).toEqual([2, 9, 12]);
    expect(
      lastShape("lrn(size=3) -> leaky_relu(0.2) -> gelu -> silu -> hardswish -> relu6"),
    ).toEqual([3, 32, 32]);
  });

  it("flattens before a dense layer: silently for [C,1,1], with a warning otherwise", () => {
    const g = net("globalavgpool -> dense(10)");
    expect(g.nodes.map((n) => n.op)).toEqual(["globalavgpool", "flatten", "dense"]);
    expect(
      diagnosticsOf("network T {\n input x: [3, 8, 8]\n globalavgpool -> dense(4)\n}"),
    ).toEqual([]);
    const warned = diagnosticsOf("network T {\n input x: [3, 8, 8]\n dense(4)\n}");
    expect(warned.map((d) => [d.severity, d.range.start.line])).toEqual([["warning", 3]]);
  });

  it("batch norm has four per-channel tensors; eps is kept", () => {
    const g = net("bn(eps=0.001)");
    expect(g.weights.map((w) => w.name)).toEqual([
      "bn_1.gamma",
      "bn_1.beta",
      "bn_1.mean",
      "bn_1.var",
    ]);
    const bn = node(g, "bn_1");
    expect(bn.op === "batchnorm" && bn.attrs.eps).toBe(0.001);
  });
});

describe("names", () => {
  it("auto-names per layer kind within a scope; labels are verbatim", () => {
    const g = net("conv(4, 3) -> relu\nfeat: conv(4, 3) -> relu\nconv(4, 3)");
    expect(g.nodes.map((n) => n.name)).toEqual(["conv_1", "relu_1", "feat", "relu_2", "conv_2"]);
  });

  it("block calls, branches and labelled repeats open scopes", () => {
    const g = lowerText(`block unit(c) {
  add { branch { conv(c, 3, pad=1) } branch { identity } }
}
network T {
  input x: [4, 8, 8]
  unit(4)
  named: unit(4)
  stage: repeat 2 { unit(4) }
  repeat 2 { relu }
}`);
    expect(g.nodes.map((n) => n.name)).toEqual([
      "unit_1.branch_1.conv_1",
      "unit_1.add_1",
      "named.branch_1.conv_1",
      "named.add_1",
      "stage.1.unit_1.branch_1.conv_1",
      "stage.1.unit_1.add_1",
      "stage.2.unit_1.branch_1.conv_1",
      "stage.2.unit_1.add_1",
      "relu_1",
      "relu_2",
    ]);
    expect(g.weights[0]!.name).toBe("unit_1.branch_1.conv_1.weight");
  });
});

describe("blocks and values", () => {
  it("evaluates arguments: defaults may use earlier parameters; int division floors", () => {
    const g = lowerText(`block b(c, mid = c / 4, k = 3) {
  conv(mid, 1) -> conv(c * 2, k, pad=same) -> conv(int(c * 0.75) + -1, 1)
}
network T {
  input x: [3, 8, 8]
  b(10)
  b(c=8, k=5)
}`);
    expect(g.nodes.map((n) => n.shape[0])).toEqual([2, 20, 6, 2, 16, 5]);
    const c = g.nodes[4]!;
    expect(c.op === "conv2d" && c.attrs.k).toEqual([5, 5]);
  });

  it("named values make skip connections, U-Net style, and squeeze-excitation with broadcasting", () => {
    const g = net(`let skip = conv(8, 3, pad=same)
maxpool(2) -> conv(8, 3, pad=same) -> upsample(2)
let merged = concat(skip, last)
let s = globalavgpool -> conv(4, 1) -> relu -> conv(16, 1) -> sigmoid
let se = gate: mul(merged, s)
output se, skip`);
    expect(node(g, "concat_1").shape).toEqual([16, 32, 32]);
    expect(node(g, "gate").inputs).toEqual(["concat_1", "sigmoid_1"]);
    expect(node(g, "gate").shape).toEqual([16, 32, 32]);
    expect(g.outputs).toEqual([
      { name: "se", value: "gate" },
      { name: "skip", value: "conv_1" },
    ]);
  });

  it("maximum, minimum and div are merges by call, not reserved words", () => {
    const g = lowerText(`block scaled(c, div) { conv(c / div, 1) }
network T {
  input x: [3, 8, 8]
  let div = scaled(8, 2)
  let m = big: maximum(div, last) -> minimum { branch { relu } branch { identity } }
  div(m, div)
}`);
    expect(node(g, "big").op).toBe("maximum");
    expect(node(g, "minimum_1").inputs).toEqual(["branch_1.relu_1", "big"]);
    expect(node(g, "div_1").inputs).toEqual(["minimum_1", "scaled_1.conv_1"]);
    const errors = (text: string) =>
      diagnosticsOf(`network T {\n  input x: [3, 8, 8]\n  ${text}\n}`);
    expect(errors("let a = relu\ndiv(a, x, last)")[0]!.message).toBe(
      "div needs exactly two named values, got 3",
    );
    expect(errors("relu { branch { identity } }")[0]!.message).toMatch(
      /^'relu' takes no branches: only merges do \(add, concat, div, maximum, minimum, mul\)$/,
    );
  });

  it("the last value is the output unless 'output' names others", () => {
    expect(net("conv(4, 3) -> relu").outputs).toEqual([{ name: "relu_1", value: "relu_1" }]);
    expect(net("let t = conv(4, 3)\nrelu\noutput t, last").outputs).toEqual([
      { name: "t", value: "conv_1" },
      { name: "relu_1", value: "relu_1" },
    ]);
  });

  it("imports blocks with use, relative to the importing file", () => {
    const files = {
      "nets/main.cnn": 'use "../lib/blocks.cnn"\nnetwork T {\n  input x: [3, 8, 8]\n  twice(4)\n}',
      "lib/blocks.cnn": 'use "more.cnn"\nblock twice(c) { once(c) -> once(c) }',
      "lib/more.cnn": "block once(c) { conv(c, 1) }\nnetwork Ignored { input y: [1] }",
    };
    // lib/ is beside nets/, not below it: reachable when the root is widened to both
    const r = compileFrontend("nets/main.cnn", memoryHost(files), { root: "" });
    expect(r.diagnostics).toEqual([]);
    expect(r.graph!.nodes.map((n) => n.name)).toEqual([
      "twice_1.once_1.conv_1",
      "twice_1.once_2.conv_1",
    ]);
  });

  it("use reads only below the entry file's folder: never up and out, never from the root", () => {
    const files = {
      "nets/main.cnn":
        'use "../secret.cnn"\nuse "/etc/passwd"\nuse "sub/ok.cnn"\nnetwork T {\n  input x: [3, 8, 8]\n  once(4)\n}',
      "nets/sub/ok.cnn": "block once(c) { conv(c, 1) }",
      "secret.cnn": "block leaked(c) { conv(c, 1) }",
    };
    const r = compileFrontend("nets/main.cnn", memoryHost(files));
    expect(r.diagnostics.map((d) => [d.code, d.range.start.line])).toEqual([
      ["use-outside", 1],
      ["use-outside", 2],
    ]);
    expect(r.diagnostics[0]!.message).toBe(
      "'../secret.cnn' lies outside 'nets/'; use reads only files below the entry file's folder",
    );
    expect([...r.sources.keys()]).toEqual(["nets/main.cnn", "nets/sub/ok.cnn"]);
  });

  it("chooses among several networks by name", () => {
    const host = memoryHost({
      "m.cnn": "network A { input x: [1] }\nnetwork B { input x: [2] }",
    });
    expect(compileFrontend("m.cnn", host, { network: "B" }).graph?.name).toBe("B");
    const r = compileFrontend("m.cnn", host);
    expect(r.diagnostics[0]!.message).toContain("choose one with --network");
  });
});
