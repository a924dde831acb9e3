// Networks shared by the kernel tests. `stem`: layers between the input and the rest, so that
// the convs read a value codegen may lay out either way (an input is always NCHW); `tail`:
// layers after the concat, so that it is no output and may be NHWC too.

const lines = (extra: string | undefined): string => (extra ? `  ${extra}\n` : "");

// 3x3 stride-1 convs: odd and even maps, asymmetric and no padding, a residual, a bias-free
// conv, activations, and two convs writing into one concat's channel slices.
export const winogradNet = (stem?: string, tail?: string): string => `network W {
  input x: [6, 9, 7]
${lines(stem)}  let a = conv(10, 3, pad=1) -> relu
  conv(10, 3, pad=1, bias=false)
  let b = add(a, last) -> relu
  let c = conv(7, 3, pad=[2, 0, 0, 1]) -> leaky_relu(0.1)
  let d = conv(5, 3) -> sigmoid
  let e = conv(3, 3, pad=same)
  concat(d, e)
${lines(tail)}  output b, c, last
}`;

// Split-K applies to convs with K >= 512 over small maps: strided and asymmetric padding, a
// residual, a bias-free conv, activations, and two convs writing one concat's channel slices.
export const splitKNet = (stem?: string, tail?: string): string => `network K {
  input x: [64, 9, 7]
${lines(stem)}  let a = conv(64, 3, stride=2, pad=[0, 1, 2, 1]) -> relu
  conv(64, 3, pad=1, bias=false)
  let b = add(a, last) -> relu
  let c = conv(64, 3, pad=same) -> sigmoid
  let d = conv(5, 3, pad=same) -> leaky_relu(0.1)
  concat(c, d)
${lines(tail)}  output b, last
}`;
