import { describe, expect, it } from "vitest";
import { interpret } from "../compiler/interp/index.js";
import {
  bindWeights,
  initWeights,
  readSafetensors,
  SafetensorsError,
  WeightsError,
  writeSafetensors,
  type NamedTensor,
} from "../compiler/weights/index.js";
import { readNpy, writeNpy, NpyError } from "../cli/npy.js";
import { lowerFile } from "./support/compile.js";

const graph = lowerFile("examples/lenet5.cnn");

function asFile(weights: Map<string, Float32Array>): Map<string, NamedTensor> {
  return new Map(
    [...weights].map(([n, data]) => [
      n,
      { shape: graph.weights.find((w) => w.name === n)!.shape, data },
    ]),
  );
}

describe("safetensors", () => {
  it("round-trips and binds by layer path", () => {
    const w = initWeights(graph, 5);
    const back = readSafetensors(writeSafetensors(asFile(w)));
    const bound = bindWeights(graph, back);
    for (const [name, data] of w) expect(bound.get(name)).toEqual(data);
  });

  it("reads f16 and bf16 tensors as float32", () => {
    const header = JSON.stringify({
      a: { dtype: "F16", shape: [2], data_offsets: [0, 4] },
      b: { dtype: "BF16", shape: [1], data_offsets: [4, 6] },
    });
    const head = new TextEncoder().encode(header);
    const bytes = new Uint8Array(8 + head.length + 6);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, BigInt(head.length), true);
    bytes.set(head, 8);
    const at = 8 + head.length;
    view.setUint16(at, 0x3c00, true); // 1.0
    view.setUint16(at + 2, 0xc000, true); // -2.0
    view.setUint16(at + 4, 0x4049, true); // bf16 of 3.140625
    const t = readSafetensors(bytes);
    expect(Array.from(t.get("a")!.data)).toEqual([1, -2]);
    expect(t.get("b")!.data[0]).toBeCloseTo(3.140625, 6);
  });

  it("rejects files that are not safetensors", () => {
    expect(() => readSafetensors(new Uint8Array([1, 2, 3]))).toThrow(SafetensorsError);
    const lying = new Uint8Array(16);
    new DataView(lying.buffer).setBigUint64(0, 1000n, true);
    expect(() => readSafetensors(lying)).toThrow(/runs past the end/);
  });

  it("refuses headers that are not an object of tensors, bad offsets and overlapping tensors", () => {
    const file = (header: unknown, dataBytes = 16): Uint8Array => {
      const json = new TextEncoder().encode(JSON.stringify(header));
      const out = new Uint8Array(8 + json.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      return out;
    };
    const t = (offsets: unknown) => ({ dtype: "F32", shape: [2], data_offsets: offsets });
    for (const [header, message] of [
      [null, /not a JSON object of tensors/],
      [[1, 2], /not a JSON object of tensors/],
      [{ a: null }, /tensor 'a' is not described by an object/],
      [{ a: t(["0", "8"]) }, /tensor 'a' has invalid data_offsets/],
      [{ a: t([0, 8]), b: t([4, 12]) }, /tensors 'a' and 'b' overlap/],
    ] as const) {
      expect(() => readSafetensors(file(header), "w.safetensors")).toThrow(SafetensorsError);
      expect(() => readSafetensors(file(header), "w.safetensors")).toThrow(message);
    }
    expect(readSafetensors(file({ a: t([0, 8]), b: t([8, 16]) })).size).toBe(2);
    // a key given twice (JSON.parse keeps the last; the reference reader refuses the file)
    const twice = new TextEncoder().encode(
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
    );
    const dup = new Uint8Array(8 + twice.length + 16);
    new DataView(dup.buffer).setBigUint64(0, BigInt(twice.length), true);
    dup.set(twice, 8);
    expect(() => readSafetensors(dup, "w.safetensors")).toThrow(/the header names 'a' twice/);
  });

  it("names each missing, extra or wrongly shaped tensor with both shapes", () => {
    const file = asFile(initWeights(graph, 1));
    file.delete("c1.bias");
    file.set("c3.weight", { shape: [16, 6, 3, 3], data: new Float32Array(16 * 6 * 9) });
    file.set("stray.weight", { shape: [1], data: new Float32Array(1) });
    try {
      bindWeights(graph, file, "'w.safetensors'");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(WeightsError);
      expect((e as WeightsError).problems).toEqual([
        "'w.safetensors' lacks 'c1.bias' ([6])",
        "'c3.weight' is [16,6,3,3] in 'w.safetensors', the network needs [16,6,5,5]",
        "'w.safetensors' has 'stray.weight', which the network does not use",
      ]);
    }
  });
});

describe("generated weights", () => {
  it("are deterministic per seed, He-scaled, and make BN do something", () => {
    const a = initWeights(graph, 1);
    expect(initWeights(graph, 1)).toEqual(a);
    expect(initWeights(graph, 2).get("c1.weight")).not.toEqual(a.get("c1.weight"));
    const w = a.get("c3.weight")!;
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.7 * Math.sqrt(2 / 150));
    expect(std).toBeLessThan(1.3 * Math.sqrt(2 / 150));
    const bn = initWeights(lowerFile("examples/sepnet.cnn"), 1);
    expect(bn.get("bn_1.var")!.every((v) => v >= 0.5 && v <= 1.5)).toBe(true);
    expect(bn.get("bn_1.mean")!.some((v) => v !== 0)).toBe(true);
  });

  it("drive the reference interpreter to a probability vector", () => {
    const out = interpret(graph, initWeights(graph, 1), { x: new Float32Array(1024).fill(0.5) }, 1);
    const p = out.get("softmax_1")!;
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
});

describe(".npy", () => {
  it("round-trips float32 and names what it cannot read", () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i / 3);
    const back = readNpy(writeNpy([2, 3, 4], data));
    expect(back.shape).toEqual([2, 3, 4]);
    expect(back.data).toEqual(data);
    expect(readNpy(writeNpy([5], data.subarray(0, 5))).shape).toEqual([5]);
    expect(() => readNpy(new Uint8Array(20), "x.npy")).toThrow(
      new NpyError("x.npy: not a .npy file"),
    );
    // integers (labels, uint8 images) read as their values: '<f4' -> '<i4' over 7 and -2
    const int = writeNpy([2], new Float32Array(2));
    int[Buffer.from(int).indexOf("<f4") + 1] = "i".charCodeAt(0);
    new DataView(int.buffer).setInt32(int.length - 8, 7, true);
    new DataView(int.buffer).setInt32(int.length - 4, -2, true);
    expect(readNpy(int, "i.npy")).toMatchObject({ dtype: "<i4", data: Float32Array.of(7, -2) });
    const big = writeNpy([2], new Float32Array(2));
    big[Buffer.from(big).indexOf("<f4") + 1] = ">".charCodeAt(0); // '<f4' -> '<>4'
    big[Buffer.from(big).indexOf("<>4")] = ">".charCodeAt(0);
    big[Buffer.from(big).indexOf(">>4") + 1] = "f".charCodeAt(0); // '>f4': big-endian
    expect(() => readNpy(big, "b.npy")).toThrow(/dtype ">f4" is not supported/);
  });

  it("parses the header as the Python literal it is, not by pattern", () => {
    const npy = (header: string, data = new Float32Array(6)): Uint8Array => {
      const head = new TextEncoder().encode(header + "\n");
      const out = new Uint8Array(10 + head.length + data.byteLength);
      out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
      new DataView(out.buffer).setUint16(8, head.length, true);
      out.set(head, 10);
      out.set(new Uint8Array(data.buffer), 10 + head.length);
      return out;
    };
    // NumPy's own spelling, and the same dict reordered with double quotes
    expect(
      readNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")).shape,
    ).toEqual([2, 3]);
    expect(readNpy(npy('{"shape": (6,), "fortran_order": False, "descr": "<f4"}')).shape).toEqual([
      6,
    ]);
    for (const [header, message] of [
      // a key inside a string value once read as the key
      [
        "{'descr': \"'shape': (1,)\", 'fortran_order': False, 'shape': (6,)}",
        /dtype "'shape': \(1,\)"/,
      ],
      // a duplicate key once took the first
      [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'shape': (1,)}",
        /the key 'shape' given twice/,
      ],
      ["{'descr': '<f4', 'fortran_order': False}", /the header's keys are descr, fortran_order/],
      ["{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", /fortran_order is not True or False/],
      [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6, -1)}",
        /the shape is not a tuple of sizes/,
      ],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", /unreadable header/],
      // a shape is a tuple: a list, or (6) (the int 6), is what NumPy refuses
      ["{'descr': '<f4', 'fortran_order': False, 'shape': [6]}", /the shape is not a tuple/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", /the shape is not a tuple/],
      ["[1, 2]", /the header is not a dict/],
    ] as const) {
      expect(() => readNpy(npy(header), "h.npy")).toThrow(NpyError);
      expect(() => readNpy(npy(header), "h.npy")).toThrow(message);
    }
  });
});
