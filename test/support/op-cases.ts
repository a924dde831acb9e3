// One layer (or a short chain) per case, on shapes chosen to be awkward: non-square, odd
// sizes, stride 3, dilation 2, asymmetric padding, replicate and reflect padding, groups,
// channel counts that are not multiples of 4. Shared by the GPU parity tests and the ONNX
// Runtime oracle tests. [name, input shape, body]
export const opCases: [string, string, string][] = [
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
  [
    "maxpool: dilated, strided, padded, ceil; dilated along W only",
    "[3, 11, 10]",
    "maxpool(3, stride=2, dilation=2, pad=1, ceil=true) -> maxpool(2, dilation=[1, 3])",
  ],
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
  [
    "elu (fused into a conv and alone) and prelu (per channel, shared, after bn in place)",
    "[5, 6, 7]",
    "conv(6, 3, pad=1) -> elu(0.7) -> prelu -> bn -> prelu(shared=true) -> elu",
  ],
  [
    "math and the activations ONNX adds (fused into a conv, then alone)",
    "[3, 5, 7]",
    "conv(6, 1) -> mish -> gelu_tanh -> selu -> softsign -> neg -> pow(3) -> abs -> sqrt -> softplus -> reciprocal -> exp -> log -> pow(2)",
  ],
  [
    "scale: alone, folded into the convs beside it, on a flat input",
    "[4, 5, 6]",
    "scale -> conv(5, 3) -> scale -> relu -> flatten -> dense(6) -> scale",
  ],
  [
    "clip (any bounds, either side open), log_softmax, channel slices",
    "[6, 4, 5]",
    "let a = slice(0, 2) -> clip(min=-0.5, max=0.75)\nlet b = x -> slice(2, 6) -> clip(min=0.1) -> log_softmax\nlet c = x -> slice(1, 4) -> clip(max=-0.2)\nlet d = concat(a, b, c)\nd -> flatten -> log_softmax",
  ],
  [
    "transpose (NHWC to NCHW and others) and reshape",
    "[3, 4, 5]",
    "transpose(cab) -> conv(4, 1) -> reshape([3, 4, 4]) -> transpose(bca) -> transpose(acb) -> transpose(cba) -> transpose(bac) -> reshape([48]) -> dense(3)",
  ],
  [
    "pixel shuffles (depth to space, dcr and crd; space to depth) and instance norm",
    "[8, 6, 4]",
    "space_to_depth(2) -> conv(16, 1) -> depth_to_space(2, mode=dcr) -> instance_norm -> conv(8, 1) -> depth_to_space(2) -> instance_norm(eps=0.001)",
  ],
  [
    "layer norm of a map and of a vector; over channels per pixel",
    "[3, 4, 5]",
    "layer_norm -> conv(4, 1) -> channel_norm -> flatten -> layer_norm(eps=0.01)",
  ],
  [
    "resize: nearest and linear by every coordinate mode, up and down, non-integer scales",
    "[3, 5, 7]",
    "resize([8, 11], mode=linear, coord=align_corners) -> resize([4, 5], coord=asymmetric, rounding=ceil) -> resize([9, 12], mode=linear, coord=pytorch_half_pixel) -> resize([6, 6], coord=tf_half_pixel_for_nn, rounding=round_prefer_ceil) -> resize([13, 7], mode=linear) -> resize([5, 4], rounding=floor)",
  ],
  [
    "affine: a weight and a bias per value",
    "[3, 4, 5]",
    "conv(4, 1) -> affine -> relu -> flatten -> affine",
  ],
  ["prelu and elu on a flat input", "[9]", "dense(7) -> prelu -> elu(1.3) -> dense(4) -> elu"],
  ["softmax over channels and over features", "[5, 3, 2]", "softmax -> flatten -> softmax"],
  [
    "add and mul with broadcasting (squeeze-excitation)",
    "[6, 5, 7]",
    "let s = globalavgpool -> conv(6, 1) -> sigmoid\nlet g = mul(x, s)\nadd(g, x, last)",
  ],
  [
    "maximum and minimum of several, div of two, broadcast; as branches too",
    "[6, 5, 7]",
    "let s = globalavgpool -> conv(6, 1) -> sigmoid\nlet a = x -> conv(6, 1)\nlet m = maximum(x, a, s)\nlet n = minimum(a, s) -> relu\nlet q = div(m, s)\nadd(q, n) -> div {\n branch { identity }\n branch { sigmoid }\n} -> minimum {\n branch { identity }\n branch { conv(1, 1) }\n}",
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
