// The adversarial corpus: for every kind of input cnnc reads, crafted files and property
// cases (every truncation point on a grid, seeded byte flips, mutated header fields, oversized
// dimensions, paths that lead out of the input's folder), each with what a user may expect of
// it. Seeds are small valid inputs made here; every mutation is derived from them with a
// seeded generator, so a failing case reproduces by its name.
import { execFileSync } from "node:child_process";
import { mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import onnxProto from "onnx-proto";
import { compile } from "../../compiler/compile.js";
import { interpret } from "../../compiler/interp/index.js";
import { importOnnx } from "../../compiler/onnx/index.js";
import { random } from "../../compiler/weights/init.js";
import { writeSafetensors } from "../../compiler/weights/index.js";
import { withManifest } from "../support/bundle.js";
import { buildModel, floatInit } from "../support/onnx-build.js";
import { runOnnx } from "../support/onnx.js";
import { writeNpy } from "../../cli/npy.js";
import type { Manifest } from "../../runtime/format.js";
import { secret, type Case } from "./run.js";

const { onnx } = onnxProto;

/** The seed network: every family the small examples use, small enough to run in a blink. */
export const seedCnn = `network T {
  input x: [3, 8, 8]
  c1: conv(4, 3, pad=1) -> bn -> relu
  maxpool(2)
  c2: dwconv(3, pad=1) -> relu
  flatten
  d1: dense(5)
  softmax
}
`;

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Byte positions for truncations: the edges and an even spread between them. */
function cutPoints(length: number, count: number): number[] {
  const points = new Set([0, 1, 7, 8, 9, 15, 16, 17, length - 1]);
  for (let k = 1; k <= count; k++) points.add(Math.floor((k * length) / (count + 1)));
  return [...points].filter((p) => p >= 0 && p < length).sort((a, b) => a - b);
}

/** `count` seeded flips: each a position in [from, to) and a non-zero XOR mask. */
function flips(seed: number, from: number, to: number, count: number): [number, number][] {
  const rand = random(seed);
  return Array.from({ length: count }, () => [
    from + Math.floor(rand() * (to - from)),
    1 + Math.floor(rand() * 255),
  ]);
}

const flipped = (bytes: Uint8Array, at: number, mask: number): Uint8Array => {
  const out = new Uint8Array(bytes); // a copy (a Buffer's slice() would be a view)
  out[at]! ^= mask;
  return out;
};

/** Equal but for JSON or Python whitespace: the only edits of a header that keep its meaning. */
const sameButSpace = (a: string, b: string): boolean =>
  a.replace(/[ \t\n\r]/g, "") === b.replace(/[ \t\n\r]/g, "");

type AddCase = (
  name: string,
  file: Uint8Array,
  expect: Case["expect"],
  verify?: Case["verify"],
) => void;

/**
 * A file of a text header and binary data: every truncation on a grid, seeded flips in the
 * header (a success must have changed only whitespace) and in the data (a success is right:
 * data is data).
 */
function framedCases(
  add: AddCase,
  file: Uint8Array,
  textStart: number,
  textEnd: number,
  seed: number,
  cuts: number,
): void {
  const header = (b: Uint8Array) => new TextDecoder().decode(b.subarray(textStart, textEnd));
  for (const at of cutPoints(file.length, cuts))
    add(`truncated at ${at}`, file.subarray(0, at), "error");
  for (const [at, mask] of flips(seed, 0, textEnd, 16)) {
    const bad = flipped(file, at, mask);
    add(`header byte ${at} ^ ${mask}`, bad, "either", () =>
      at >= textStart && sameButSpace(header(bad), header(file))
        ? undefined
        : "read a header whose meaning changed",
    );
  }
  for (const [at, mask] of flips(seed + 1, textEnd, file.length, 4))
    add(`data byte ${at} ^ ${mask}`, flipped(file, at, mask), "success");
}

function seedBundle(): { bundle: Uint8Array; weights: Uint8Array } {
  const compiled = compile(seedCnn, { file: "T.cnn", seed: 3 });
  const source = compiled.source!;
  const tensors = new Map(
    source.weights.map((w) => [w.name, { shape: w.shape, data: source.constants!.get(w.name)! }]),
  );
  return { bundle: compiled.bundle!, weights: writeSafetensors(tensors) };
}

function cnnCases(): Case[] {
  const cases: Case[] = [];
  const build = (name: string, source: Uint8Array | string, expect: Case["expect"] = "either") =>
    cases.push({
      kind: ".cnn",
      name,
      files: { "net.cnn": source },
      args: ["build", "net.cnn", "-o", "out.cnnb"],
      expect,
      outputs: ["out.cnnb"],
    });
  const bytes = text(seedCnn);
  for (const at of cutPoints(bytes.length, 10)) build(`truncated at ${at}`, bytes.subarray(0, at));
  for (const [at, mask] of flips(11, 0, bytes.length, 16))
    build(`byte ${at} ^ ${mask}`, flipped(bytes, at, mask));
  const numbers = ["0", "-1", "2147483648", "99999999999999999999", "1e309", "1.5", "0x10"];
  let k = 0;
  for (const m of seedCnn.matchAll(/\b\d+\b/g)) {
    const v = numbers[k++ % numbers.length]!;
    build(
      `number at ${m.index} as ${v}`,
      seedCnn.slice(0, m.index) + v + seedCnn.slice(m.index + m[0].length),
    );
  }
  const body = (lines: string) => `network N {\n  input x: [4, 8, 8]\n${lines}}\n`;
  build(
    "300 nested repeats",
    body("repeat 1 {\n".repeat(300) + "relu\n" + "}\n".repeat(300)),
    "error",
  );
  build("300 nested brackets", body(`conv(${"[".repeat(300)}4${"]".repeat(300)}, 1)\n`), "error");
  build(
    "300 nested parentheses",
    body(`conv(${"(".repeat(300)}4${")".repeat(300)}, 1)\n`),
    "error",
  );
  build("16,000 errors", body("  conv(0, 3)\n".repeat(16_000)), "error");
  build("20,000 layers", body("  relu\n".repeat(20_000)), "success");
  build("100,001 layers", body("  relu\n".repeat(100_001)), "error");
  build("repeat 10000 of repeat 10000", body("repeat 10000 { repeat 10000 { relu } }\n"), "error");
  build("a block that calls itself", `block b() { b() }\n${body("  b()\n")}`, "error");
  build("dense(1100000): 1.1 GiB of weights", body("  flatten\n  dense(1100000)\n"), "error");
  // (2^40 values is the limit; a bundle that needs more than a device has is built with a
  // warning, and its run refused by the runtime's checks.)
  build("an input of 2^40 values", body("").replace("[4, 8, 8]", "[1024, 1048576, 1024]"));
  build(
    "an input over 2^40 values",
    body("").replace("[4, 8, 8]", "[1024, 1048576, 1025]"),
    "error",
  );
  build("input dims 0", body("  relu\n").replace("[4, 8, 8]", "[4, 0, 8]"), "error");
  build("a 1 MB identifier", body(`  ${"a".repeat(1 << 20)}: relu\n`));
  build("a 17 MiB file", `# ${"x".repeat(17 << 20)}\n${seedCnn}`, "error");
  build("NUL bytes", seedCnn.replace("relu", "re\0lu"), "error");
  build(
    "invalid UTF-8",
    new Uint8Array([...bytes.subarray(0, 20), 0xff, 0xfe, ...bytes.subarray(20)]),
    "error",
  );
  build("a byte order mark", `\ufeff${seedCnn}`);
  build("CRLF line ends", seedCnn.replace(/\n/g, "\r\n"), "success");
  build("CR line ends", seedCnn.replace(/\n/g, "\r"));
  build("an escape sequence in a name", seedCnn.replace("c1:", "\u001b[31mc1:"), "error");
  build("an empty file", "", "error");
  return cases;
}

function useCases(): Case[] {
  const outside = `# ${secret}\nblock leak() { relu }\n`;
  const entry = (line: string) => `${line}\nnetwork N {\n  input x: [4, 8, 8]\n  leak()\n}\n`;
  const useCase = (
    name: string,
    line: string,
    extra: Record<string, string | Uint8Array> = {},
    setup?: (dir: string) => void,
  ): Case => ({
    kind: "use",
    name,
    files: { "secret.cnn": outside, "proj/main.cnn": entry(line), ...extra },
    ...(setup ? { setup } : {}),
    args: ["check", "proj/main.cnn"],
    expect: "error",
  });
  return [
    useCase("a parent folder", `use "../secret.cnn"`),
    useCase("an absolute path", `use "/etc/passwd"`),
    useCase("a device", `use "/dev/zero"`),
    useCase("stdin", `use "/dev/stdin"`),
    useCase("a link out of the folder", `use "link.cnn"`, {}, (d) =>
      symlinkSync("../secret.cnn", join(d, "proj/link.cnn")),
    ),
    useCase("a folder", `use "sub"`, { "proj/sub/a.cnn": "block leak() { relu }\n" }),
    useCase("a FIFO", `use "fifo.cnn"`, {}, (d) =>
      execFileSync("mkfifo", [join(d, "proj/fifo.cnn")]),
    ),
    useCase("a 17 MiB file", `use "big.cnn"`, {
      "proj/big.cnn": `# ${"x".repeat(17 << 20)}\nblock leak() { relu }\n`,
    }),
    useCase("itself", `use "main.cnn"`),
    useCase("a cycle", `use "a.cnn"`, {
      "proj/a.cnn": `use "b.cnn"\n`,
      "proj/b.cnn": `use "a.cnn"\nblock x() { relu }\n`,
    }),
    useCase("a missing file", `use "missing.cnn"`),
    useCase("an empty path", `use ""`),
    useCase("a NUL in the path", `use "a\u0000.cnn"`),
    useCase("a subfolder's parent's parent", `use "sub/../../secret.cnn"`, {
      "proj/sub/a.cnn": "",
    }),
    useCase("a file with errors", `use "bad.cnn"`, { "proj/bad.cnn": "block leak( { relu\n" }),
    useCase("500 files in a chain", `use "u0.cnn"`, {
      ...Object.fromEntries(
        Array.from({ length: 500 }, (_, i) => [`proj/u${i}.cnn`, `use "u${i + 1}.cnn"\n`]),
      ),
      "proj/u500.cnn": "block other() { relu }\n",
    }),
  ];
}

function npyCases(bundle: Uint8Array): Case[] {
  const x = Float32Array.from({ length: 192 }, (_, i) => Math.sin(i));
  const good = writeNpy([1, 3, 8, 8], x);
  const headerEnd = 10 + new DataView(good.buffer).getUint16(8, true);
  const cases: Case[] = [];
  const run = (name: string, file: Uint8Array, expect: Case["expect"], verify?: Case["verify"]) =>
    cases.push({
      kind: ".npy",
      name,
      files: { "T.cnnb": bundle, "x.npy": file },
      args: ["run", "T.cnnb", "--cpu", "--input", "x=x.npy"],
      expect,
      ...(verify ? { verify } : {}),
    });
  framedCases(run, good, 10, headerEnd, 21, 10);
  const withHeader = (dict: string, data = new Uint8Array(768)): Uint8Array => {
    let h = dict;
    while ((10 + h.length + 1) % 64) h += " ";
    h += "\n";
    const out = new Uint8Array(10 + h.length + data.length);
    out.set([0x93, ...text("NUMPY"), 1, 0]);
    new DataView(out.buffer).setUint16(8, h.length, true);
    out.set(text(h), 10);
    out.set(data, 10 + h.length);
    return out;
  };
  const header = (descr: string, shape: string, order = "False") =>
    `{'descr': '${descr}', 'fortran_order': ${order}, 'shape': ${shape}, }`;
  run("the seed", withHeader(header("<f4", "(1, 3, 8, 8)")), "success");
  for (const descr of [">f4", "<f8", "<f2", "<i4", "|b1", "<U4", "|O", "<c8", "f4"])
    run(`descr ${descr}`, withHeader(header(descr, "(1, 3, 8, 8)")), "either");
  run("fortran order", withHeader(header("<f4", "(1, 3, 8, 8)", "True")), "error");
  for (const shape of [
    "(1, 3, 8, 9)",
    "(99999999999, 3, 8, 8)",
    "(-1, 3, 8, 8)",
    "(1, 3, 8, 8, 1, 1)",
    "()",
    "(192,)",
    "(1, 3, 8, 8",
    "[1, 3, 8, 8]",
    "(1e3, 3, 8, 8)",
    "(2**40, 3, 8, 8)",
    "(18446744073709551617, 3, 8, 8)",
  ])
    run(`shape ${shape}`, withHeader(header("<f4", shape)), "error");
  run(
    "a duplicate key",
    withHeader(`{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (1, 3, 8, 8), }`),
    "error",
  );
  run(
    "a key inside a string",
    withHeader(
      `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 8, 8), 'x': "'shape': (2,)", }`,
    ),
    "error",
  );
  run("a missing key", withHeader(`{'descr': '<f4', 'shape': (1, 3, 8, 8), }`), "error");
  run(
    "deeply nested",
    withHeader(
      `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 8, 8), 'x': ${"[".repeat(5000)}${"]".repeat(5000)}}`,
    ),
    "error",
  );
  run(
    "version 3",
    (() => {
      const b = new Uint8Array(good);
      b[6] = 3;
      return b;
    })(),
    "error",
  );
  run(
    "a header length past the end",
    (() => {
      const b = new Uint8Array(good);
      new DataView(b.buffer).setUint16(8, 65535, true);
      return b;
    })(),
    "error",
  );
  return cases;
}

function safetensorsCases(weights: Uint8Array): Case[] {
  const cases: Case[] = [];
  const headerLength = Number(new DataView(weights.buffer).getBigUint64(0, true));
  const headerEnd = 8 + headerLength;
  const headerText = (b: Uint8Array) => new TextDecoder().decode(b.subarray(8, headerEnd));
  const build = (name: string, file: Uint8Array, expect: Case["expect"], verify?: Case["verify"]) =>
    cases.push({
      kind: ".safetensors",
      name,
      files: { "T.cnn": seedCnn, "w.safetensors": file },
      args: ["build", "T.cnn", "--weights", "w.safetensors", "-o", "out.cnnb"],
      expect,
      outputs: ["out.cnnb"],
      ...(verify ? { verify } : {}),
    });
  framedCases(build, weights, 8, headerEnd, 31, 12);
  const header = JSON.parse(headerText(weights)) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const data = weights.subarray(headerEnd);
  const withHeader = (h: unknown, body = data, raw?: string): Uint8Array => {
    const json = text(raw ?? JSON.stringify(h));
    const out = new Uint8Array(8 + json.length + body.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(body, 8 + json.length);
    return out;
  };
  const names = Object.keys(header).filter((n) => n !== "__metadata__");
  const first = names[0]!;
  const edit = (f: (h: Record<string, unknown>) => void): Record<string, unknown> => {
    const h = structuredClone(header) as Record<string, unknown>;
    f(h);
    return h;
  };
  const entry = (h: Record<string, unknown>, n = first) => h[n] as Record<string, unknown>;
  build("the seed, re-encoded", withHeader(header), "success");
  build("a null header", withHeader(null), "error");
  build("an array header", withHeader([]), "error");
  build("string offsets", withHeader(edit((h) => (entry(h).data_offsets = ["0", "64"]))), "error");
  build("negative offsets", withHeader(edit((h) => (entry(h).data_offsets = [-64, 0]))), "error");
  build(
    "fractional offsets",
    withHeader(edit((h) => (entry(h).data_offsets = [0.5, 64.5]))),
    "error",
  );
  build(
    "offsets past the end",
    withHeader(edit((h) => (entry(h).data_offsets = [0, 1e12]))),
    "error",
  );
  build("reversed offsets", withHeader(edit((h) => (entry(h).data_offsets = [64, 0]))), "error");
  build(
    "every tensor at offset 0",
    withHeader(
      edit((h) =>
        names.forEach((n) => {
          const e = entry(h, n);
          const [b, end] = e.data_offsets as number[];
          e.data_offsets = [0, end! - b!];
        }),
      ),
    ),
    "error",
  );
  for (const dtype of ["F64", "F16", "BF16", "I64", "U8", "BOOL", "F8_E4M3", "f32", ""])
    build(`dtype ${dtype}`, withHeader(edit((h) => (entry(h).dtype = dtype))), "error");
  build(
    "a shape that disagrees with the bytes",
    withHeader(edit((h) => (entry(h).shape = [4, 3, 3, 4]))),
    "error",
  );
  build("a shape of 2^53", withHeader(edit((h) => (entry(h).shape = [2 ** 53]))), "error");
  build(
    "a negative dimension",
    withHeader(edit((h) => (entry(h).shape = [-4, -3, 3, 3]))),
    "error",
  );
  build(
    "a shape the layer does not take",
    (() => {
      const e = header[first]!;
      const n = e.shape.reduce((a, b) => a * b, 1);
      return withHeader(edit((h) => (entry(h).shape = [n])));
    })(),
    "error",
  );
  build("a missing tensor", withHeader(edit((h) => delete h[first])), "error");
  build(
    "an unknown tensor",
    withHeader(
      edit((h) => (h["nope.weight"] = { dtype: "F32", shape: [0], data_offsets: [0, 0] })),
    ),
    "error",
  );
  build(
    "a duplicate key",
    withHeader(
      undefined,
      data,
      JSON.stringify(header).replace(
        "{",
        `{"${first}":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},`,
      ),
    ),
    "error",
  );
  build(
    "metadata that is not strings",
    withHeader(edit((h) => (h.__metadata__ = { a: [1, 2] }))),
    "either",
  );
  build(
    "a header length of 2^63",
    (() => {
      const b = new Uint8Array(weights);
      new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true);
      return b;
    })(),
    "error",
  );
  build("a header length of 0", withHeader(undefined, data, ""), "error");
  build(
    "NaN in a weight",
    (() => {
      const b = new Uint8Array(weights);
      new DataView(b.buffer).setFloat32(headerEnd, NaN, true);
      return b;
    })(),
    "success",
  );
  return cases;
}

/** A manifest as a test may edit it. */
type Editable<T> = T extends readonly (infer U)[]
  ? Editable<U>[]
  : T extends object
    ? { -readonly [K in keyof T]: Editable<T[K]> }
    : T;

/** What `cnnc run` printed, without the time it took. */
const untimed = (stdout: string): string => stdout.replace(/[\d.]+ ms/g, "? ms");

function bundleCases(bundle: Uint8Array, baseline: string): Case[] {
  const cases: Case[] = [];
  const run = (name: string, file: Uint8Array, expect: Case["expect"]) =>
    cases.push({
      kind: ".cnnb",
      name,
      files: { "T.cnnb": file },
      args: ["run", "T.cnnb", "--cpu", "--input", "random"],
      expect,
      // A change the checks let through must not change the answer.
      verify: (_, stdout) =>
        untimed(stdout) === untimed(baseline) ? undefined : "a different answer",
    });
  for (const at of cutPoints(bundle.length, 12))
    run(`truncated at ${at}`, bundle.subarray(0, at), "error");
  for (const [at, mask] of flips(41, 0, bundle.length, 20))
    run(`byte ${at} ^ ${mask}`, flipped(bundle, at, mask), "either");
  const mutate = (
    name: string,
    change: (m: Editable<Manifest> & { version?: number }) => unknown,
  ) =>
    run(
      name,
      withManifest(bundle, (m) => {
        const copy = structuredClone(m) as Editable<Manifest>;
        return (change(copy) as object | undefined) ?? copy;
      }),
      "either",
    );
  mutate("bindings swapped", (m) => m.dispatches[0]!.bindings.reverse());
  mutate("an input shape changed", (m) => (m.inputs[0]!.shape = [3, 8, 9]));
  mutate("an output shape changed", (m) => (m.outputs[0]!.shape = [6]));
  mutate("the arena 0", (m) => (m.arena = 0));
  mutate("a value of 2^50 per item", (m) => (m.values[1]!.perBatch = 2 ** 50));
  mutate("a kernel index out of range", (m) => (m.dispatches[0]!.kernel = 99));
  mutate(
    "a grid of 2^31 workgroups",
    (m) => (m.dispatches[0]!.grid = { kind: "flat", perBatch: 2 ** 40, groupSize: 1 }),
  );
  mutate(
    "the IR without its last node",
    (m) =>
      (m.ir = m
        .ir!.split("\n")
        .filter((l: string) => !l.includes("softmax"))
        .join("\n")),
  );
  mutate(
    "the IR's conv with another kernel size",
    (m) => (m.ir = m.ir!.replace(/kernel=\[3, 3\]/, "kernel=[5, 5]")),
  );
  mutate("the IR unparsable", (m) => (m.ir = "network {"));
  mutate("weights at one offset", (m) => m.weights.forEach((w) => "offset" in w && (w.offset = 0)));
  mutate("a weight of 2^40 values", (m) => (m.weights[0]!.shape = [2 ** 40]));
  mutate("a derived weight from nowhere", (m) =>
    m.weights.push({ name: "w", shape: [1], source: "nope", transform: "hwc" }),
  );
  mutate("a manifest that is an array", () => []);
  mutate("version 99", (m) => (m.version = 99));
  mutate("a name with escapes", (m) => (m.network = "\u001b]0;pwned\u0007T"));
  return cases;
}

/** The seed model: Conv (padded, strided), Relu, MaxPool, Flatten, Gemm, Softmax. */
function seedOnnx(): Uint8Array {
  const rand = random(5);
  const vals = (n: number) => Array.from({ length: n }, () => rand() - 0.5);
  return new Uint8Array(
    buildModel({
      input: [1, 3, 8, 8],
      output: "y",
      nodes: [
        {
          op: "Conv",
          inputs: ["x", "w", "b"],
          output: "c",
          attrs: {
            kernel_shape: [3, 3],
            pads: [1, 1, 1, 1],
            strides: [1, 1],
            dilations: [1, 1],
            group: 1,
          },
        },
        { op: "LeakyRelu", inputs: ["c"], output: "r", floats: { alpha: 0.1 } },
        {
          op: "MaxPool",
          inputs: ["r"],
          output: "p",
          attrs: { kernel_shape: [2, 2], strides: [2, 2] },
        },
        { op: "Flatten", inputs: ["p"], output: "f", attrs: { axis: 1 } },
        { op: "Gemm", inputs: ["f", "g", "gb"], output: "z", attrs: { transB: 1 } },
        { op: "Softmax", inputs: ["z"], output: "y", attrs: { axis: 1 } },
      ],
      initializers: [
        floatInit("w", [4, 3, 3, 3], vals(108)),
        floatInit("b", [4], vals(4)),
        floatInit("g", [5, 64], vals(320)),
        floatInit("gb", [5], vals(5)),
      ],
    }),
  );
}

/** Agrees with ONNX Runtime on the very same bytes, or says how it does not. */
async function agreesWithOrt(bytes: Uint8Array): Promise<string | undefined> {
  let graph;
  try {
    graph = importOnnx(bytes);
  } catch (e) {
    return `the CLI imported what the library refuses: ${(e as Error).message}`;
  }
  const x: Record<string, Float32Array> = Object.fromEntries(
    graph.inputs.map((i) => [
      i.name,
      Float32Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, (_, k) => Math.cos(k)),
    ]),
  );
  let want: Record<string, Float32Array>;
  try {
    want = await runOnnx(bytes, graph, x, 1);
  } catch (e) {
    return `imported a model ONNX Runtime refuses: ${(e as Error).message.split("\n")[0]}`;
  }
  const got = interpret(graph, graph.constants!, x, 1);
  for (const o of graph.outputs) {
    const ref = want[o.name];
    const out = got.get(o.name);
    if (!ref || !out || ref.length !== out.length) return `output '${o.name}' differs in size`;
    for (let i = 0; i < ref.length; i++)
      if (!(Math.abs(out[i]! - ref[i]!) <= 1e-4 + 1e-3 * Math.abs(ref[i]!)))
        return `output '${o.name}'[${i}]: ${out[i]} vs ONNX Runtime's ${ref[i]}`;
  }
  return undefined;
}

function onnxCases(): Case[] {
  const model = seedOnnx();
  const cases: Case[] = [];
  const importCase = (
    name: string,
    file: Uint8Array,
    expect: Case["expect"],
    extra: Record<string, string | Uint8Array> = {},
  ) =>
    cases.push({
      kind: ".onnx",
      name,
      files: { "secret.bin": `${secret}${"x".repeat(2000)}`, "proj/m.onnx": file, ...extra },
      args: ["import", "proj/m.onnx", "-o", "proj/out.cnn"],
      expect,
      outputs: ["proj/out.cnn", "proj/out.safetensors"],
      verify: () => agreesWithOrt(file),
    });
  for (const at of cutPoints(model.length, 10))
    importCase(`truncated at ${at}`, model.subarray(0, at), "either");
  for (const [at, mask] of flips(51, 0, model.length, 24))
    importCase(`byte ${at} ^ ${mask}`, flipped(model, at, mask), "either");
  const decoded = () => onnx.ModelProto.decode(model);
  const mutate = (
    name: string,
    change: (m: onnxProto.onnx.ModelProto) => void,
    expect: Case["expect"] = "either",
  ) => {
    const m = decoded();
    change(m);
    importCase(name, new Uint8Array(onnx.ModelProto.encode(m).finish()), expect);
  };
  const node = (m: onnxProto.onnx.ModelProto, op: string) =>
    m.graph!.node!.find((n) => n.opType === op)!;
  const attr = (m: onnxProto.onnx.ModelProto, op: string, name: string) =>
    node(m, op).attribute!.find((a) => a.name === name)!;
  const init = (m: onnxProto.onnx.ModelProto, name: string) =>
    m.graph!.initializer!.find((t) => t.name === name)!;
  for (const [what, ints] of [
    ["kernel 0", [0, 0]],
    ["kernel -1", [-1, -1]],
    ["kernel 2^40", [2 ** 40, 3]],
    ["kernel 5 (weights 3x3)", [5, 5]],
  ] as const)
    mutate(`Conv ${what}`, (m) => (attr(m, "Conv", "kernel_shape").ints = [...ints]));
  mutate("Conv pads -1", (m) => (attr(m, "Conv", "pads").ints = [-1, -1, -1, -1]));
  mutate("Conv pads 2^31", (m) => (attr(m, "Conv", "pads").ints = [2 ** 31, 1, 1, 1]));
  mutate("Conv pads of 3 values", (m) => (attr(m, "Conv", "pads").ints = [1, 1, 1]));
  mutate("Conv strides 0", (m) => (attr(m, "Conv", "strides").ints = [0, 0]));
  mutate("Conv dilations 0", (m) => (attr(m, "Conv", "dilations").ints = [0, 0]));
  mutate("Conv group 0", (m) => (attr(m, "Conv", "group").i = 0));
  mutate("Conv group 3", (m) => (attr(m, "Conv", "group").i = 3));
  mutate("Conv auto_pad FOO", (m) =>
    node(m, "Conv").attribute!.push({ name: "auto_pad", type: 3, s: text("FOO") }),
  );
  mutate("LeakyRelu alpha NaN", (m) => (attr(m, "LeakyRelu", "alpha").f = NaN));
  mutate("LeakyRelu alpha Infinity", (m) => (attr(m, "LeakyRelu", "alpha").f = Infinity));
  mutate("MaxPool kernel 0", (m) => (attr(m, "MaxPool", "kernel_shape").ints = [0, 0]));
  mutate("MaxPool kernel 9 on 8x8", (m) => (attr(m, "MaxPool", "kernel_shape").ints = [9, 9]));
  mutate("Flatten axis 7", (m) => (attr(m, "Flatten", "axis").i = 7));
  mutate("Softmax axis -9", (m) => (attr(m, "Softmax", "axis").i = -9));
  mutate("Gemm transB 0", (m) => (attr(m, "Gemm", "transB").i = 0));
  mutate(
    "weights with short data",
    (m) => (init(m, "w").floatData = init(m, "w").floatData!.slice(0, 100)),
  );
  mutate(
    "weights with extra data",
    (m) => (init(m, "w").floatData = [...init(m, "w").floatData!, 1, 2]),
  );
  mutate("weights with dims -4", (m) => (init(m, "w").dims = [-4, 3, 3, 3]));
  mutate("weights with 2^40 elements", (m) => (init(m, "w").dims = [2 ** 20, 2 ** 20, 1, 1]));
  mutate("weights with channels 2 of 3", (m) => (init(m, "w").dims = [6, 2, 3, 3]));
  mutate("bias of 5 for 4 filters", (m) => {
    init(m, "b").floatData = [1, 2, 3, 4, 5];
    init(m, "b").dims = [5];
  });
  mutate("Gemm weights [5, 63]", (m) => {
    init(m, "g").dims = [5, 63];
    init(m, "g").floatData = init(m, "g").floatData!.slice(0, 315);
  });
  for (const [type, label] of [
    [onnx.TensorProto.DataType.STRING, "STRING"],
    [onnx.TensorProto.DataType.DOUBLE, "DOUBLE"],
    [onnx.TensorProto.DataType.INT64, "INT64"],
    [onnx.TensorProto.DataType.FLOAT16, "FLOAT16"],
    [onnx.TensorProto.DataType.UNDEFINED, "UNDEFINED"],
    [99, "99"],
  ] as const)
    mutate(`weights typed ${label}`, (m) => (init(m, "w").dataType = type));
  mutate("weights as short raw data", (m) => {
    const w = init(m, "w");
    w.rawData = new Uint8Array(new Float32Array(w.floatData!).buffer).slice(0, 400);
    w.floatData = [];
  });
  mutate("weights as raw data and floats", (m) => {
    const w = init(m, "w");
    w.rawData = new Uint8Array(new Float32Array(w.floatData!).buffer);
  });
  mutate(
    "weights missing",
    (m) => (m.graph!.initializer = m.graph!.initializer!.filter((t) => t.name !== "w")),
  );
  mutate("weights given twice", (m) => m.graph!.initializer!.push({ ...init(m, "w") }));
  mutate("a graph with a cycle", (m) => (node(m, "Conv").input![0] = "y"));
  mutate("a node reading nothing known", (m) => (node(m, "LeakyRelu").input![0] = "nope"));
  mutate("two nodes writing one value", (m) => (node(m, "MaxPool").output![0] = "c"));
  mutate("an unknown op", (m) => (node(m, "LeakyRelu").opType = "Frobnicate"));
  mutate("an op of another domain", (m) => (node(m, "LeakyRelu").domain = "com.example"));
  mutate("opset 1", (m) => (m.opsetImport![0]!.version = 1));
  mutate("opset 99", (m) => (m.opsetImport![0]!.version = 99));
  mutate("no opset", (m) => (m.opsetImport = []));
  mutate(
    "input dims 0",
    (m) => (m.graph!.input![0]!.type!.tensorType!.shape!.dim![2] = { dimValue: 0 }),
  );
  mutate(
    "input dims -8",
    (m) => (m.graph!.input![0]!.type!.tensorType!.shape!.dim![2] = { dimValue: -8 }),
  );
  mutate(
    "input dims 2^40",
    (m) => (m.graph!.input![0]!.type!.tensorType!.shape!.dim![2] = { dimValue: 2 ** 40 }),
  );
  mutate("input of type INT64", (m) => (m.graph!.input![0]!.type!.tensorType!.elemType = 7));
  mutate("no output", (m) => (m.graph!.output = []));
  mutate("an output no node writes", (m) => (m.graph!.output![0]!.name = "nope"));
  mutate("a name with escapes", (m) => (m.graph!.name = "\u001b]0;pwned\u0007"));
  const external =
    (location: string, offset?: number, length?: number) => (m: onnxProto.onnx.ModelProto) => {
      const w = init(m, "w");
      w.floatData = [];
      w.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      w.externalData = [
        { key: "location", value: location },
        ...(offset === undefined ? [] : [{ key: "offset", value: String(offset) }]),
        ...(length === undefined ? [] : [{ key: "length", value: String(length) }]),
      ];
    };
  mutate("external data in the parent folder", external("../secret.bin", 0, 432), "error");
  mutate("external data at an absolute path", external("/etc/passwd"), "error");
  mutate("external data from a device", external("/dev/zero", 0, 432), "error");
  mutate("external data past the end", external("data.bin", 100, 432), "error");
  mutate("external data at offset -1", external("data.bin", -1, 432), "error");
  mutate("external data that is missing", external("missing.bin"), "error");
  {
    const m = decoded();
    external("data.bin", 0, 432)(m);
    importCase(
      "external data through a link out of the folder",
      onnx.ModelProto.encode(m).finish(),
      "error",
    );
    const last = cases[cases.length - 1]!;
    cases[cases.length - 1] = {
      ...last,
      setup: (d) => symlinkSync("../secret.bin", join(d, "proj/data.bin")),
    };
  }
  return cases;
}

function flagCases(bundle: Uint8Array): Case[] {
  const cases: Case[] = [];
  const flag = (
    name: string,
    args: string[],
    expect: Case["expect"],
    outputs: string[] = [],
    files: Record<string, string | Uint8Array> = {},
  ) =>
    cases.push({
      kind: "flags",
      name,
      files: {
        "T.cnn": seedCnn,
        "T.cnnb": bundle,
        "x.npy": writeNpy([1, 3, 8, 8], new Float32Array(192)),
        ...files,
      },
      args,
      expect,
      outputs,
    });
  for (const b of [
    "0",
    "-1",
    "1e9",
    "0x10",
    "1.5",
    "",
    "NaN",
    "99999999999999999999",
    "3000000",
    " 2",
  ])
    flag(
      `--batch ${JSON.stringify(b)}`,
      ["run", "T.cnnb", "--cpu", "--input", "random", "--batch", b],
      "error",
    );
  for (const s of ["abc", "-1", "1.5", "4294967296", "1e3"])
    flag(`--seed ${s}`, ["build", "T.cnn", "--seed", s, "-o", "o.cnnb"], "error");
  for (const t of ["0", "-3", "x", "1e9"])
    flag(
      `--top ${t}`,
      ["run", "T.cnnb", "--cpu", "--input", "random", "--top", t],
      t === "1e9" ? "either" : "error",
    );
  for (const o of ["3", "-1", "x", "1.5"])
    flag(`-O ${o}`, ["build", "T.cnn", "-O", o, "-o", "o.cnnb"], "error", ["o.cnnb"]);
  for (const b of ["0", "-5", "x", "3"])
    flag(`--max-binding ${b}`, ["build", "T.cnn", "--max-binding", b, "-o", "o.cnnb"], "error");
  flag("--layout sideways", ["build", "T.cnn", "--layout", "sideways", "-o", "o.cnnb"], "error");
  flag("--passes nope", ["build", "T.cnn", "--passes", "nope", "-o", "o.cnnb"], "error");
  flag("--dump-ir nope", ["build", "T.cnn", "--dump-ir", "nope", "-o", "o.cnnb"], "error");
  flag("--network nope", ["build", "T.cnn", "--network", "nope", "-o", "o.cnnb"], "error");
  for (const t of ["-1", "NaN", "2", "x"])
    flag(`--decompose-tol ${t}`, ["build", "T.cnn", "--decompose-tol", t, "-o", "o.cnnb"], "error");
  for (const n of ["0", "-1", "x", "1.5"])
    flag(`--bench ${n}`, ["run", "T.cnnb", "--input", "random", "--bench", n], "error");
  flag("--cpu --bench", ["run", "T.cnnb", "--cpu", "--input", "random", "--bench", "3"], "error");
  flag("--adapter nope", ["run", "T.cnnb", "--input", "random", "--adapter", "nope"], "error");
  // `cnnc run T.cnnb --cpu` with inputs and outputs that must be refused
  for (const [name, rest] of [
    ["--input of an unknown name", ["--input", "y=x.npy"]],
    ["--input of a missing file", ["--input", "x=missing.npy"]],
    ["--input of a folder", ["--input", "x=."]],
    ["--input twice", ["--input", "x=x.npy", "x=x.npy"]],
    ["--input and a batch that disagree", ["--input", "x=x.npy", "--batch", "2"]],
    ["--output over the bundle", ["--input", "random", "--output", "T.cnnb"]],
    ["--output over the input", ["--input", "x=x.npy", "--output", "x.npy"]],
    ["--output into a missing folder", ["--input", "random", "--output", "no/such/y.npy"]],
  ] as const)
    flag(name, ["run", "T.cnnb", "--cpu", ...rest], "error");
  flag("--output onto a folder", ["build", "T.cnn", "-o", "sub"], "error", [], {
    "sub/keep.txt": "keep",
  });
  flag("-o over the source", ["build", "T.cnn", "-o", "T.cnn"], "error");
  flag("-o onto a device (a link to /dev/full)", ["build", "T.cnn", "-o", "full"], "error");
  flag("-o through a link to the source", ["build", "T.cnn", "-o", "link.cnnb"], "error");
  flag("a missing file", ["build", "nope.cnn"], "error");
  flag("a folder as the file", ["check", "."], "error");
  flag("/dev/zero as the file", ["check", "/dev/zero"], "error");
  flag("an unknown command", ["frobnicate"], "error");
  flag("an unknown option", ["build", "T.cnn", "--frobnicate"], "error");
  flag("a bundle given to build", ["build", "T.cnnb"], "error");
  flag(
    "a .cnn given to run with random weights",
    ["run", "T.cnn", "--cpu", "--input", "random"],
    "success",
  );
  const withSetup = (name: string, setup: (dir: string) => void): void => {
    const i = cases.findIndex((c) => c.name === name);
    cases[i] = { ...cases[i]!, setup };
  };
  withSetup("-o through a link to the source", (d) => symlinkSync("T.cnn", join(d, "link.cnnb")));
  withSetup("-o onto a device (a link to /dev/full)", (d) =>
    symlinkSync("/dev/full", join(d, "full")),
  );
  return cases;
}

/** Every case, in a fixed order. */
export function corpus(): Case[] {
  const { bundle, weights } = seedBundle();
  // The answer of the untouched bundle: any mutation the checks let through must give it.
  const dir = mkdtempSync(join(tmpdir(), "cnnc-seed-"));
  writeFileSync(join(dir, "T.cnnb"), bundle);
  const baseline = execFileSync(
    process.execPath,
    [resolve("dist/cli/bin.js"), "run", "T.cnnb", "--cpu", "--input", "random"],
    {
      cwd: dir,
      encoding: "utf8",
    },
  );
  return [
    ...cnnCases(),
    ...useCases(),
    ...npyCases(bundle),
    ...safetensorsCases(weights),
    ...bundleCases(bundle, baseline),
    ...onnxCases(),
    ...flagCases(bundle),
  ];
}
