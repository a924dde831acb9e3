// Every op on a real WebGPU adapter against the float64 reference, on shapes chosen to be
// awkward: non-square, odd sizes, stride 3, dilation 2, asymmetric padding, replicate and
// reflect padding, groups, channel counts that are not multiples of 4, batch 1 and 3.
import { describe, it } from "vitest";
import { expectParity, net } from "./support.js";

const cases: [string, string, string][] = [
  // [name, input shape, body]
  ["conv GEMM: same padding, non-square", "[3, 7, 9]", "conv(5, 3, pad=same)"],
  [
    "conv GEMM: [3,5] kernel, stride [2,3], asymmetric padding",
    "[5, 11, 13]",
    "conv(6, [3, 5], stride=[2, 3], pad=[0, 1, 2, 1])",
  ],
  [
    "conv GEMM: stride 3, dilation 2, no bias",
    "[7, 17, 15]",
    "conv(9, 3, stride=3, dilation=2, pad=2, bias=false)",
  ],
  ["conv GEMM: 1x1 over many channels (K > one tile)", "[70, 5, 3]", "conv(67, 1)"],
  ["conv GEMM: 7x7 stride 2 pad 3 (a ResNet stem)", "[3, 23, 19]", "conv(13, 7, stride=2, pad=3)"],
  ["conv GEMM, vec4 weight loads (K = 36)", "[4, 5, 7]", "conv(6, 3, pad=1)"],
  ["1x1 conv GEMM, vec4 input and weight loads", "[12, 4, 6]", "conv(10, 1) -> conv(70, 1)"],
  ["1x1 conv GEMM, vec4 input loads, K = 7", "[7, 4, 4]", "conv(5, 1)"],
  ["dense, vec4 weight loads (K = 40)", "[40]", "dense(23) -> dense(9)"],
  ["conv direct: groups 2", "[6, 9, 8]", "conv(4, 3, groups=2, pad=1)"],
  ["conv direct: reflect padding", "[3, 6, 7]", "conv(5, 3, pad=[2, 1], padmode=reflect)"],
  [
    "conv direct: replicate padding, stride 2",
    "[3, 6, 7]",
    "conv(5, 3, stride=2, pad=1, padmode=replicate)",
  ],
  [
    "dwconv: multiplier 2, stride 2, dilation 2",
    "[5, 13, 11]",
    "dwconv(3, stride=2, dilation=2, pad=same, multiplier=2)",
  ],
  ["sepconv", "[6, 10, 9]", "sepconv(7, 3, stride=2, pad=same)"],
  ["deconv: k4 s2 p1", "[5, 4, 6]", "deconv(3, 4, stride=2, pad=1)"],
  [
    "deconv: output_pad, groups 2, dilation 2",
    "[6, 5, 4]",
    "deconv(4, 3, stride=2, pad=1, output_pad=1, dilation=2, groups=2)",
  ],
  ["deconv: pad same, stride 3", "[3, 4, 5]", "deconv(5, 3, stride=3, pad=same)"],
  ["maxpool: k3 s2 ceil, padded", "[3, 10, 9]", "maxpool(3, stride=2, pad=1, ceil=true)"],
  ["avgpool: count_pad false, padding", "[3, 9, 10]", "avgpool(3, stride=2, pad=1)"],
  [
    "avgpool: count_pad true, ceil",
    "[3, 9, 10]",
    "avgpool(3, stride=2, pad=1, ceil=true, count_pad=true)",
  ],
  ["global pools", "[5, 7, 6]", "let a = globalavgpool\nlet b = x -> globalmaxpool\nconcat(a, b)"],
  ["batch norm", "[5, 4, 3]", "bn(eps=0.001)"],
  ["dense on a flat input", "[37]", "dense(11) -> relu -> dense(3, bias=false)"],
  ["dense after a flattened map", "[3, 5, 4]", "flatten -> dense(7)"],
  [
    "activations",
    "[3, 5, 7]",
    "conv(6, 1) -> leaky_relu(0.1) -> gelu -> silu -> hardswish -> relu6 -> hardsigmoid -> sigmoid -> tanh -> relu",
  ],
  ["softmax over channels and over features", "[5, 3, 2]", "softmax -> flatten -> softmax"],
  [
    "add and mul with broadcasting (squeeze-excitation)",
    "[6, 5, 7]",
    "let s = globalavgpool -> conv(6, 1) -> sigmoid\nlet g = mul(x, s)\nadd(g, x, last)",
  ],
  [
    "concat of three",
    "[3, 6, 5]",
    "concat {\n branch { conv(2, 1) }\n branch { identity }\n branch { conv(5, 3, pad=same) }\n}",
  ],
  ["upsample nearest and bilinear", "[3, 4, 5]", "upsample([2, 3]) -> upsample(2, mode=bilinear)"],
  [
    "pad: constant, replicate, reflect",
    "[2, 5, 6]",
    "pad([1, 2, 0, 3], value=0.5) -> pad(1, mode=replicate) -> pad([2, 1], mode=reflect)",
  ],
  ["lrn, odd and even sizes", "[7, 3, 4]", "lrn(size=3) -> lrn(size=4, alpha=0.01, beta=0.5, k=1)"],
  ["dropout and identity are free", "[3, 4, 4]", "dropout(0.3) -> identity -> relu"],
];

describe("GPU parity per op", () => {
  for (const [name, input, body] of cases) {
    for (const batch of [1, 3]) {
      it(`${name} (batch ${batch})`, async () => {
        await expectParity(net(input, body), { batch, seed: name.length + batch });
      });
    }
  }

  it("a dense weight over the binding limit runs split over row ranges", async () => {
    // 23 x 40 floats = 3680 bytes; a 1 KiB limit splits it into 5 row ranges.
    await expectParity(net("[40]", "dense(23)"), { batch: 3, maxBindingBytes: 1024 });
  });
});

describe("GPU parity of the fused epilogue: act(conv + bias + residual)", () => {
  const fused = `graph F {
  input %x : f32[N,6,9,7]
  weight @a.weight : f32[6,6,3,3]
  weight @a.bias : f32[6]
  weight @b.weight : f32[6,3,3,3]
  weight @d.weight : f32[5,378]
  weight @d.bias : f32[5]
  weight @e.weight : f32[5,5]
  %a = conv2d(%x, %x, @a.weight, @a.bias) {filters=6 k=[3,3] s=[1,1] p=[1,1,1,1] d=[1,1] g=1 padmode=zeros bias=true act=relu} : f32[N,6,9,7]
  %b = conv2d(%a, %x, @b.weight) {filters=6 k=[3,3] s=[1,1] p=[1,1,1,1] d=[1,1] g=2 padmode=reflect bias=false act=leaky_relu alpha=0.2} : f32[N,6,9,7]
  %f = flatten(%b) : f32[N,378]
  %d = dense(%f, @d.weight, @d.bias) {units=5 bias=true act=gelu} : f32[N,5]
  %e = dense(%d, %d, @e.weight) {units=5 bias=false act=hardswish} : f32[N,5]
  output y = %e
}
`;
  it("a 1x1 conv whose residual is its own input (one binding, scalar loads)", async () => {
    const { parseIr, verify } = await import("../../compiler/ir/index.js");
    const text = `graph R {
  input %x : f32[N,8,4,4]
  weight @c.weight : f32[8,8,1,1]
  %c = conv2d(%x, %x, @c.weight) {filters=8 k=[1,1] s=[1,1] p=[0,0,0,0] d=[1,1] g=1 padmode=zeros bias=false act=relu} : f32[N,8,4,4]
  output y = %c
}
`;
    await expectParity(verify(parseIr(text)), { batch: 2 });
  });
  for (const batch of [1, 3]) {
    it(`GEMM conv, direct conv and dense (batch ${batch})`, async () => {
      const { parseIr, verify } = await import("../../compiler/ir/index.js");
      await expectParity(verify(parseIr(fused)), { batch });
    });
  }
});
