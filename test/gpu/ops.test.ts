// Every op on a real WebGPU adapter against the float64 reference, on shapes chosen to be
// awkward: non-square, odd sizes, stride 3, dilation 2, asymmetric padding, replicate and
// reflect padding, groups, channel counts that are not multiples of 4, batch 1 and 3.
import { describe, it } from "vitest";
import { opCases as cases } from "../support/op-cases.js";
import { adapterChoice, expectParity, net } from "./support.js";

// SwiftShader compiles pipelines ~10x slower than llvmpipe: there every case runs at batch 3
// (every kernel, in core WebGPU), llvmpipe and a real GPU at batch 1 too.
const batches = adapterChoice === "swiftshader" ? [3] : [1, 3];

describe("GPU parity per op", () => {
  for (const [name, input, body] of cases) {
    for (const batch of batches) {
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

// A CPU emulation's bundle with its quick start (the kernels quickest to compile, every one in a
// shape family): the first run on those, the next on the emulation's own defaults.
describe("GPU parity per op: a CPU emulation's quick start, then its own kernels", () => {
  for (const [name, input, body] of cases) {
    it(`${name} (batch 2)`, async () => {
      await expectParity(net(input, body), {
        batch: 2,
        seed: name.length + 2,
        target: "cpu",
        quickStart: "always",
      });
    });
  }
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
