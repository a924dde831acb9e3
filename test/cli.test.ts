// The CLI as users run it: the built binary, exit codes, and what it prints.
import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeSafetensors } from "../compiler/weights/index.js";

import { summarizeNetwork } from "../compiler/compile.js";
import { summaryJson } from "../compiler/analysis/index.js";
import { terminalSafe } from "../cli/common.js";
import { readNpy, writeNpy } from "../cli/npy.js";
import { buildModel } from "./support/onnx-build.js";

function cnnc(...args: string[]) {
  const r = spawnSync(process.execPath, ["dist/cli/bin.js", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** What `summary --json` prints, as far as these tests read it. */
interface Json {
  batch: number;
  layers: ({ name: string; inputs: string[]; layers?: number } & Record<string, unknown>)[];
  totals: Record<string, unknown> & { params: number; memory: Record<string, number> };
}

describe("cnnc", () => {
  it("prints help", () => {
    const r = cnnc("--help");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/summary/);
    expect(r.out).toMatch(/check/);
  });

  it("summary prints a per-layer table and totals", () => {
    const r = cnnc("summary", "examples/lenet5.cnn");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^layer\s+op\s+output\s+kernel\s+stride\s+params\s+units\s+connections\s+MACs\s+RF\s+jump\s+activations$/m,
    );
    expect(r.out).toMatch(
      /^c1\s+conv2d\s+\[6,28,28\]\s+5\s+1\s+156\s+4,704\s+122,304\s+118K\s+5\s+1\s+18\.4 KiB$/m,
    );
    expect(r.out).toMatch(/^s2\s+avgpool2d\s+\[6,14,14\]\s+2\s+2\s+0\s+1,176\s+4,704 /m);
    expect(r.out).toMatch(/^connections\s+435,950 /m);
    expect(r.out).toMatch(/^trainable params\s+61,706 /m);
    expect(r.out).toMatch(/^non-trainable\s+0 /m);
    expect(r.out).toMatch(/^receptive field\s+32 pixels/m);
    // memory as torchsummary estimates it: 4 KiB in, 61,706 x 4 B, 2 x 57.5 KiB of outputs
    expect(r.out).toMatch(/^input size\s+4\.0 KiB \(batch 1, f32\)$/m);
    expect(r.out).toMatch(/^params size\s+241\.0 KiB /m);
    expect(r.out).toMatch(/^forward\/backward\s+115\.1 KiB /m);
    expect(r.out).toMatch(/^estimated total\s+360\.1 KiB /m);
    // a chain: no "connected to" column
    expect(r.out).not.toContain("connected to");
  });

  it("summary --batch scales what a batch does, not the params; --json says the same", () => {
    const one = JSON.parse(cnnc("summary", "examples/lenet5.cnn", "--json").out) as Json;
    const four = JSON.parse(
      cnnc("summary", "examples/lenet5.cnn", "--json", "--batch", "4").out,
    ) as Json;
    expect(four.batch).toBe(4);
    expect(four.totals.params).toBe(one.totals.params);
    for (const k of ["units", "connections", "macs", "backwardMacs", "flops", "activationBytes"])
      expect(four.totals[k], k).toBe(4 * (one.totals[k] as number));
    expect(four.totals.memory.inputBytes).toBe(4 * 4096);
    expect(four.totals.memory.paramBytes).toBe(61_706 * 4);
    const c1 = one.layers.find((l) => l.name === "c1")!;
    expect(c1).toMatchObject({ connections: 122_304, units: 4704, kernel: [5, 5], stride: [1, 1] });
    expect(c1.inputs).toEqual(["x"]);
    const text = cnnc("summary", "examples/lenet5.cnn", "--batch", "4").out;
    expect(text).toMatch(/^MACs\s+1,666,080 \(1\.67M; conv and dense layers, batch 4\)$/m);
    expect(cnnc("summary", "examples/lenet5.cnn", "--batch", "0").err).toMatch(
      /--batch must be a positive integer/,
    );
  });

  it("summary --depth folds deeper blocks into rows of their sums; branches say what they read", () => {
    const full = cnnc("summary", "examples/tiny.cnn");
    expect(full.out).toMatch(/connected to$/m);
    expect(full.out).toMatch(/^inception_1\.concat_1\s.*inception_1\.branch_1\.relu_1, /m);
    const r = cnnc("summary", "examples/tiny.cnn", "--depth", "1");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^inception_1\s+block of \d+\s+\[56,32,32\]/m);
    expect(r.out).not.toMatch(/^inception_1\.branch/m);
    expect(r.out).toMatch(/^layers\s+\d+ \(\d+ rows at depth 1\)$/m);
    const json = JSON.parse(
      cnnc("summary", "examples/tiny.cnn", "--depth", "1", "--json").out,
    ) as Json;
    const block = json.layers.find((l) => l.name === "inception_1")!;
    const all = (JSON.parse(cnnc("summary", "examples/tiny.cnn", "--json").out) as Json).layers;
    const inside = all.filter((l) => l.name.startsWith("inception_1."));
    expect(block.layers).toBe(inside.length);
    expect(block.params).toBe(inside.reduce((n, l) => n + (l.params as number), 0));
    expect(block.macs).toBe(inside.reduce((n, l) => n + (l.macs as number), 0));
    expect(block.inputs).toEqual(["basic_2.relu_1"]);
  });

  /** LeNet-5 built to a bundle and exported to ONNX, once for the tests that read them. */
  let lenet: { bundle: string; model: string } | undefined;
  const lenetFiles = () => {
    if (lenet) return lenet;
    const dir = mkdtempSync(join(tmpdir(), "cnnc-lenet-"));
    const files = { bundle: join(dir, "l.cnnb"), model: join(dir, "l.onnx") };
    expect(cnnc("build", "examples/lenet5.cnn", "-o", files.bundle).code).toBe(0);
    expect(cnnc("export", "examples/lenet5.cnn", "-o", files.model).code).toBe(0);
    return (lenet = files);
  };

  it("summary describes an .onnx and a .cnnb too; a .cnn command given one says what it is", () => {
    const { bundle, model } = lenetFiles();
    const fromBundle = cnnc("summary", bundle);
    expect(fromBundle.code, fromBundle.err).toBe(0);
    // (what the bundle runs: the optimised graph, its activations fused)
    expect(fromBundle.out).toMatch(/^trainable params\s+61,706 /m);
    expect(fromBundle.out).toMatch(/^c1\s+conv2d\s+\[6,28,28\]\s+5\s+1\s+156\s+4,704\s+122,304 /m);
    const fromModel = cnnc("summary", model);
    expect(fromModel.code, fromModel.err).toBe(0);
    expect(fromModel.out).toMatch(/^trainable params\s+61,706 /m);
    for (const [file, what] of [
      [bundle, "is a cnnc bundle, not .cnn source: cnnc run runs it"],
      [model, "is an ONNX model, not .cnn source: cnnc import turns it into .cnn"],
    ] as const) {
      const r = cnnc("check", file);
      expect(r.code).toBe(1);
      expect(r.err).toBe(
        `cnnc: '${file}' ${what}${r.err.slice(r.err.indexOf(what) + what.length)}`,
      );
      expect(r.err.split("\n")).toHaveLength(2); // one line
    }
  });

  it("inspect says what a bundle and a model hold, and whether cnnc imports the model", () => {
    const { bundle, model } = lenetFiles();
    const b = cnnc("inspect", bundle);
    expect(b.code, b.err).toBe(0);
    expect(b.out).toMatch(/^network\s+LeNet5$/m);
    expect(b.out).toMatch(/^inputs\s+x \[N, 1, 32, 32\]$/m);
    expect(b.out).toMatch(/^weights\s+10 tensors, 61,706 values /m);
    expect(b.out).toMatch(/^tuning\s+none /m);
    const m = cnnc("inspect", model);
    expect(m.code, m.err).toBe(0);
    expect(m.out).toMatch(/^producer\s+cnnc/m);
    expect(m.out).toMatch(/^inputs\s+x \[N, 1, 32, 32\] float$/m);
    expect(m.out).toMatch(/^cnnc imports it\s+yes: \d+ layers$/m);
    const source = cnnc("inspect", "examples/lenet5.cnn");
    expect(source.code).toBe(1);
    expect(source.err).toMatch(/inspect reads a \.cnnb bundle or an \.onnx model/);
  });

  it("build --target any writes CPU emulations' kernels beside a GPU's; inspect says so", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-any-"));
    const out = join(dir, "t.cnnb");
    const b = cnnc("build", "examples/tiny.cnn", "--target", "any", "-o", out);
    expect(b.code, b.err).toBe(0);
    expect(b.out).toMatch(
      /^wrote .*t\.cnnb: \d+ kernels, \d+ dispatches, .*; for CPU emulations \d+ kernels, \d+ dispatches; a quick start of \d+ kernels$/m,
    );
    const i = cnnc("inspect", out);
    expect(i.code, i.err).toBe(0);
    expect(i.out).toMatch(/^for CPU emulations\s+\d+ WGSL shaders, \d+ dispatches per run, /m);
    expect(i.out).toMatch(/^quick start\s+\d+ WGSL shaders \(.* of source\) for CPU emulations/m);
    // --no-quick-start leaves it out
    const plain = cnnc(
      "build",
      "examples/tiny.cnn",
      "--target",
      "any",
      "--no-quick-start",
      "-o",
      out,
    );
    expect(plain.code, plain.err).toBe(0);
    expect(plain.out).not.toMatch(/quick start/);
    expect(cnnc("inspect", out).out).not.toMatch(/^quick start/m);
    const bad = cnnc("build", "examples/tiny.cnn", "--target", "tpu", "-o", out);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/Allowed choices are gpu, cpu, any/);
  });

  it("build --f16 stores the weights as halves; inspect says so; --cpu runs it; --train refuses it", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-f16-"));
    const [full, half] = [join(dir, "f32.cnnb"), join(dir, "f16.cnnb")];
    expect(cnnc("build", "examples/lenet5.cnn", "-o", full).code).toBe(0);
    const b = cnnc("build", "examples/lenet5.cnn", "--f16", "-o", half);
    expect(b.code, b.err).toBe(0);
    const size = (r: { out: string }) =>
      Number(/([\d,]+) bytes/.exec(r.out)![1]!.replace(/,/g, ""));
    const [i32, i16] = [cnnc("inspect", full), cnnc("inspect", half)];
    expect(i16.out).toMatch(
      /^weights\s+\d+ tensors, 61,706 values \(121\.5 KiB stored as f16; read as halves; computed in f32\)$/m,
    );
    expect(i32.out).toMatch(/^weights\s+\d+ tensors, 61,706 values \(242\.3 KiB stored\)$/m);
    expect(size(i16)).toBeLessThan(size(i32));
    const cpu = cnnc("run", half, "--cpu", "--input", "random");
    expect(cpu.code, cpu.err).toBe(0);
    expect(cpu.out).toMatch(/sample 0: top 5:/);
    const train = cnnc("build", "examples/fashion_lenet.cnn", "--train", "--f16", "-o", half);
    expect(train.code).toBe(1);
    expect(train.err).toMatch(/a training bundle updates f32 weights \(build without --f16\)/);
  });

  it("build --train writes a training bundle: inspect describes it, run refuses it by name", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-train-bundle-"));
    const out = join(dir, "f.train.cnnb");
    const b = cnnc(
      "build",
      "examples/fashion_lenet.cnn",
      "--train",
      "--optimizer",
      "sgd",
      "--lr",
      "0.02",
      "--target",
      "cpu",
      "-o",
      out,
    );
    expect(b.err).toBe("");
    expect(b.code).toBe(0);
    expect(b.out).toMatch(
      /^wrote .*f\.train\.cnnb: a training bundle, \d+ kernels, \d+ dispatches a step, 10 trained weight tensors \(sgd lr 0\.02\), [\d,]+ bytes; 2\.9 MiB on the device at batch 32$/m,
    );
    const i = cnnc("inspect", out);
    expect(i.code, i.err).toBe(0);
    expect(i.out).toMatch(/^bundle\s+.*a training bundle \(loadTrainer\)$/m);
    expect(i.out).toMatch(/^optimizer\s+sgd, lr 0\.02$/m);
    expect(i.out).toMatch(/^weights\s+10 trained of 10 tensors, 61,706 values/m);
    const run = cnnc("run", out, "--input", "random");
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/^cnnc: .*invalid bundle \(bundle-kind\): this is a training bundle/);
    expect(run.err.trim().split("\n")).toHaveLength(1);
    const any = cnnc(
      "build",
      "examples/fashion_lenet.cnn",
      "--train",
      "--target",
      "any",
      "-o",
      out,
    );
    expect([any.code, any.err]).toEqual([
      1,
      "cnnc: a training bundle holds one class of kernels: --target gpu or cpu, not 'any'\n",
    ]);
    // a network whose output is not class scores is refused, saying why, nothing written
    const net = join(dir, "maps.cnn");
    writeFileSync(net, "network R {\n  input x: [1, 8, 8]\n  conv(4, 3, pad=1)\n}\n");
    const refused = cnnc("build", net, "--train", "-o", join(dir, "r.cnnb"));
    expect([refused.code, refused.err]).toEqual([
      1,
      "cnnc: training needs class scores [K] (K >= 2) as the output, 'conv_1' is [4, 8, 8]\n",
    ]);
    expect(readdirSync(dir)).not.toContain("r.cnnb");
  });

  it("tune --record refuses a file that is not tuning data before measuring anything", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-record-"));
    for (const [text, why] of [
      ["not json", /not a tuning data file \(Unexpected token/],
      ['{"adapter": "x"}', /not a tuning data file \(no 'layers' list\)/],
    ] as const) {
      const file = join(dir, "data.json");
      writeFileSync(file, text);
      const r = cnnc("tune", "examples/lenet5.cnn", "--record", file);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(why);
      expect(r.out).toBe(""); // refused before "tuning ... on <adapter>", not after the search
      expect(r.err).not.toMatch(/\bat .*\.js:\d+/);
      expect(readFileSync(file, "utf8")).toBe(text); // left as it was
    }
  });

  it("prints at most 100 errors, then how many there were", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-many-"));
    const file = join(dir, "many.cnn");
    writeFileSync(file, `network M {\n  input x: [3, 8, 8]\n${"  conv(0, 3)\n".repeat(250)}}\n`);
    const r = cnnc("check", file);
    expect(r.code).toBe(1);
    expect(r.err.match(/: error: /g)).toHaveLength(100);
    expect(r.err).toMatch(/\ncnnc: 150 more not shown \(the first 100 are\)\n250 errors\n$/);
  });

  it("summary --json has the documented schema", () => {
    const r = cnnc("summary", "--json", "examples/alexnet.cnn");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as {
      network: string;
      inputs: { name: string; shape: number[] }[];
      layers: Record<string, unknown>[];
      totals: Record<string, unknown>;
    };
    expect(s.network).toBe("AlexNet");
    expect(s.inputs).toEqual([{ name: "x", shape: [3, 224, 224] }]);
    expect(s.layers[0]).toMatchObject({
      name: "conv_1",
      op: "conv2d",
      output: [64, 55, 55],
      params: 23_296,
      macs: 70_276_800,
      rf: [11, 11],
      jump: [4, 4],
    });
    expect(s.totals).toMatchObject({ params: 61_100_840, bnStats: 0, macs: 714_188_480 });
    expect(typeof s.totals.activationBytes).toBe("number");
    // the library's report, field for field
    const report = summarizeNetwork(readFileSync("examples/alexnet.cnn", "utf8"))!;
    expect(s).toEqual(JSON.parse(JSON.stringify(summaryJson(report))));
  });

  it("a name given in the source is the layer's name verbatim", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-"));
    const file = join(dir, "named.cnn");
    writeFileSync(file, "network N {\n  input x: [3, 8, 8]\n  features: maxpool(2)\n}\n");
    const s = JSON.parse(cnnc("summary", "--json", file).out) as { layers: { name: string }[] };
    expect(s.layers.map((l) => l.name)).toEqual(["features"]);
  });

  it("check: exit 0 with a line per network, or every error, exit 1, no stack trace", () => {
    const ok = cnnc("check", "examples/resnet18.cnn");
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^ok: ResNet18: \d+ layers, output fc$/m);

    const bad = cnnc("check", "test/fixtures/bad/kernel-too-large.cnn");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(
      "test/fixtures/bad/kernel-too-large.cnn:4:7: error: conv: kernel 7x7 is larger than the input 5x5 (layer 'c3')",
    );
    expect(bad.err).toMatch(/^ 4 \|   c3: conv\(16, 7\)\n   \|       \^~+$/m);
    expect(bad.err).toMatch(/^3 errors$/m);
    expect(bad.err).not.toMatch(/\bat .*\.js:\d+/);
  });

  it("user errors exit 1: a missing file, an unknown command, a missing argument", () => {
    for (const args of [
      ["check", "no/such/file.cnn"],
      ["frobnicate"],
      ["summary"],
      ["summary", "--nope", "x"],
    ]) {
      const r = cnnc(...args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.err).not.toMatch(/\bat .*\.js:\d+/);
    }
  });

  it("a device error (a batch too large for the device) is one line and exit 1", () => {
    const r = cnnc("run", "examples/lenet5.cnn", "--input", "random", "--batch", "100000");
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/^cnnc: batch 100000 is too large: 'x' needs \d+ bytes/m);
    expect(r.err).not.toMatch(/internal error|\n\s+at /);
  });

  it("flags are checked: --seed takes a 32-bit integer, --batch a decimal one, --cpu no --bench", () => {
    const run = ["run", "examples/lenet5.cnn", "--input", "random"];
    for (const [flags, message] of [
      [["--seed", "abc"], /--seed must be an integer from 0 to 4294967295, got 'abc'/],
      [["--batch", "0x10"], /--batch must be a positive integer, got '0x10'/],
      [["--cpu", "--bench", "3"], /--bench times WebGPU runs/],
      // a seed past 32 bits or below 0 silently meant another one
      [["--seed", "4294967296"], /--seed must be an integer from 0 to 4294967295/],
      [["--seed", "-1"], /--seed must be an integer from 0 to 4294967295/],
      [["--batch", " 2"], /--batch must be a positive integer, got ' 2'/],
      [["--input", "random"], /--input gives 'x' twice/],
      // checked before the device is made: nothing else is printed first
      [["--bench", "0"], /^cnnc: --bench must be a positive integer, got '0'\n$/],
    ] as const) {
      const r = cnnc(...run, ...flags);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(message);
    }
  });

  it("outputs: never an input, never into a missing folder or over a folder, never half-written", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-out-"));
    const source = join(dir, "n.cnn");
    const text = "network N {\n  input x: [2, 5, 5]\n  conv(3, 3)\n}\n";
    writeFileSync(source, text);
    const device = join(dir, "null");
    symlinkSync("/dev/null", device);
    for (const [target, message] of [
      [source, /will not write '.*n\.cnn': it is an input/],
      [join(dir, "missing", "n.cnnb"), /cannot write '.*n\.cnnb': its folder does not exist/],
      [dir, /cannot write '.*': it is a folder/],
      // renamed over, a device node was replaced by the bundle (as root); a link to one here,
      // so that a regression replaces the link, not the device
      [device, /cannot write '.*null': it is not a regular file/],
    ] as const) {
      const r = cnnc("build", source, "-o", target);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
    expect(readFileSync(source, "utf8")).toBe(text);
    // no temporary file is left behind
    expect(readdirSync(dir).sort()).toEqual(["n.cnn", "null"]);
  });

  it("run --cpu prints a large map's statistics (once a stack overflow)", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-big-"));
    const source = join(dir, "big.cnn");
    writeFileSync(source, "network Big {\n  input x: [3, 256, 256]\n  conv(3, 1)\n}\n");
    const r = cnnc("run", source, "--cpu", "--input", "random");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^ {2}sample 0: min -?[\d.]+(e-?\d+)?, max -?[\d.]+(e-?\d+)?, mean /m);
  });

  it("NaN in an input is a warning for the input and each output it reaches", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-nan-"));
    const x = Float32Array.from({ length: 1024 }, (_, i) => (i === 7 ? NaN : Math.cos(i)));
    writeFileSync(join(dir, "x.npy"), writeNpy([1, 1, 32, 32], x));
    const r = cnnc("run", "examples/lenet5.cnn", "--cpu", "--input", join(dir, "x.npy"));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^cnnc: warning: input 'x' has 1 NaN or infinite value$/m);
    expect(r.err).toMatch(/^cnnc: warning: output 'softmax_1' has 10 NaN or infinite values$/m);
  });

  it("reads only below its input's folder, regular files only: use, ONNX external data", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-confine-"));
    mkdirSync(join(dir, "m"));
    writeFileSync(join(dir, "secret.bin"), new Uint8Array(8));
    const model = join(dir, "m", "x.onnx");
    writeFileSync(
      model,
      buildModel({
        input: ["N", 2, 4, 4],
        output: "y",
        nodes: [{ op: "Conv", inputs: ["x", "w"], output: "y" }],
        initializers: [
          {
            name: "w",
            dims: [1, 2, 1, 1],
            dataType: 1,
            dataLocation: 1,
            externalData: [{ key: "location", value: "../secret.bin" }],
          },
        ],
      }),
    );
    const onnx = cnnc("build", model, "-o", join(dir, "m", "x.cnnb"));
    expect(onnx.code, onnx.err).toBe(1);
    expect(onnx.err).toMatch(/external data '\.\.\/secret\.bin' is not a readable file below/);
    // a FIFO (or a device) is never read: it would hang or never end
    expect(spawnSync("mkfifo", [join(dir, "m", "f.cnn")]).status).toBe(0);
    writeFileSync(join(dir, "m", "n.cnn"), 'use "f.cnn"\nnetwork N {\n  input x: [1]\n}\n');
    const fifo = cnnc("check", join(dir, "m", "n.cnn"));
    expect(fifo.code).toBe(1);
    expect(fifo.err).toMatch(/cannot read 'f\.cnn'/);
    writeFileSync(join(dir, "m", "u.cnn"), 'use "../up.cnn"\nnetwork N {\n  input x: [1]\n}\n');
    const up = cnnc("check", join(dir, "m", "u.cnn"));
    expect(up.code).toBe(1);
    expect(up.err).toMatch(/'\.\.\/up\.cnn' lies outside/);
    // --use-root widens it; a link cannot lead out of it
    writeFileSync(join(dir, "up.cnn"), "block up() { relu }\n");
    writeFileSync(
      join(dir, "m", "u.cnn"),
      'use "../up.cnn"\nnetwork N {\n  input x: [1]\n  up()\n}\n',
    );
    const widened = cnnc("check", join(dir, "m", "u.cnn"), "--use-root", dir);
    expect(widened.code, widened.err).toBe(0);
    symlinkSync("../up.cnn", join(dir, "m", "link.cnn"));
    writeFileSync(
      join(dir, "m", "l.cnn"),
      'use "link.cnn"\nnetwork N {\n  input x: [1]\n  up()\n}\n',
    );
    const linked = cnnc("check", join(dir, "m", "l.cnn"));
    expect(linked.code).toBe(1);
    expect(linked.err).toMatch(/'link\.cnn' leads through a link to a file outside/);
  });

  it("commander's own errors are one line like every other: unknown commands and options", () => {
    for (const args of [
      ["bulid", "x.cnn"],
      ["build", "--frob", "x.cnn"],
      ["run", "x", "--adapter", "nope"],
    ]) {
      const r = cnnc(...args);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^cnnc: .+ \(run 'cnnc help' for the commands\)\n$/);
    }
    expect(cnnc("bulid").err).toMatch(/unknown command 'bulid' \(Did you mean build\?\)/);
  });

  it("build warns when the bundle needs more than WebGPU's default limits at batch 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-limits-"));
    writeFileSync(
      join(dir, "big.cnn"),
      "network Big {\n  input x: [3, 2048, 2048]\n  conv(16, 3, pad=1)\n}\n",
    );
    const r = cnnc("build", join(dir, "big.cnn"), "-o", join(dir, "big.cnnb"));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(
      /^cnnc: warning: beyond WebGPU's default limits at batch 1: 'conv_1' needs 268435456 bytes; the device binds at most 134217728; the bundle loads only on devices that raise them$/m,
    );
    const fits = cnnc(
      "build",
      join(dir, "big.cnn"),
      "-o",
      join(dir, "big.cnnb"),
      "--max-binding",
      String(2 ** 30),
    );
    expect(fits.err).not.toMatch(/needs 268435456 bytes/);
    // (what remains at that size: one dispatch of 65536 workgroups in y, over every device's
    // 65535; the runtime refuses to run it with the same words)
    expect(fits.err).toMatch(/layer 'conv_1' would need 1x65536x1 workgroups/);
    expect(cnnc("build", "examples/resnet18.cnn", "-o", join(dir, "r.cnnb")).err).toBe("");
  });

  it("graph draws at most 1,000 layers, and says so beyond", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-graph-"));
    writeFileSync(
      join(dir, "g.cnn"),
      `network G {\n  input x: [4, 8, 8]\n${"  relu\n".repeat(1001)}}\n`,
    );
    const r = cnnc("graph", join(dir, "g.cnn"), "-o", join(dir, "g.svg"));
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      "cnnc: the network has 1001 layers; a graph draws at most 1000 (cnnc summary lists any number)\n",
    );
  });

  it("sizes are checked before anything is allocated: generated weights, random inputs", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-size-"));
    writeFileSync(join(dir, "d.cnn"), "network D {\n  input x: [4000]\n  dense(400000)\n}\n");
    const build = cnnc("build", join(dir, "d.cnn"), "-o", join(dir, "d.cnnb"));
    expect(build.code, build.err).toBe(1);
    expect(build.err).toMatch(
      /the network's weights take 6\.0 GiB .*; cnnc generates at most 1 GiB/,
    );
    const batch = cnnc(
      "run",
      "examples/lenet5.cnn",
      "--cpu",
      "--input",
      "random",
      "--batch",
      "3000000",
    );
    expect(batch.code, batch.err).toBe(1);
    expect(batch.err).toMatch(/--batch 3000000: a random input 'x' would take 11\.4 GiB/);
  });

  it("text from files and names cannot drive the terminal (escape sequences are shown, not run)", () => {
    expect(terminalSafe("a\u001b[2Jb\nc\td\r\u009b")).toBe("a\\x1b[2Jb\nc\td\\x0d\\x9b");
    const r = cnnc("check", join(tmpdir(), "\u001b[31mred.cnn"));
    expect(r.code).toBe(1);
    expect(r.err).not.toMatch(/\u001b/);
    expect(r.err).toMatch(/\\x1b\[31mred\.cnn/);
  });

  it("export writes an ONNX model ONNX Runtime loads", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-onnx-"));
    const out = join(dir, "l.onnx");
    const r = cnnc("export", "examples/lenet5.cnn", "-o", out, "--seed", "3");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^wrote .*l\.onnx: ONNX opset 17, [\d,]+ bytes$/m);
    const { default: ort } = await import("onnxruntime-node");
    const session = await ort.InferenceSession.create(out);
    expect(session.inputNames).toEqual(["x"]);
    expect(session.outputNames).toEqual(["softmax_1"]);
    const bad = cnnc("export", "test/fixtures/bad/kernel-too-large.cnn", "-o", join(dir, "x.onnx"));
    expect(bad.code).toBe(1);
  });

  it("import writes a .cnn and its weights; build and check take them, and the .onnx itself", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-import-"));
    const model = join(dir, "s.onnx");
    expect(cnnc("export", "examples/sepnet.cnn", "-o", model).code).toBe(0);
    const r = cnnc("import", model, "-o", join(dir, "s.cnn"));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^wrote .*s\.cnn \(\d+ layers\) and .*s\.safetensors \(\d+ tensors\)$/m);
    expect(cnnc("check", join(dir, "s.cnn")).code).toBe(0);
    const b = cnnc(
      "build",
      join(dir, "s.cnn"),
      "--weights",
      join(dir, "s.safetensors"),
      "-o",
      join(dir, "a.cnnb"),
    );
    expect(b.code, b.err).toBe(0);
    const direct = cnnc("build", model, "-o", join(dir, "b.cnnb"));
    expect(direct.code, direct.err).toBe(0);
    writeFileSync(join(dir, "bad.onnx"), "not a model");
    const bad = cnnc("import", join(dir, "bad.onnx"));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^cnnc: .*bad\.onnx: not an ONNX model/m);
    expect(bad.err).not.toMatch(/\bat .*\.js:\d+/);
  });

  it("import and run of an .onnx take --input-shape and --freeze, and import says what it folded", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-onnx-flags-"));
    const model = join(dir, "d.onnx");
    writeFileSync(
      model,
      buildModel({
        input: ["N", 2, "H", "W"],
        output: "y",
        nodes: [
          { op: "Conv", inputs: ["x", "w"], output: "c" },
          { op: "Mul", inputs: ["c", "k"], output: "y" },
        ],
        inputs: [{ name: "w", dims: [3, 2, 1, 1] }],
        initializers: [{ name: "k", dims: [], dataType: 1, floatData: [2] }],
      }),
    );
    const bare = cnnc("import", model, "-o", join(dir, "d.cnn"));
    expect(bare.code).toBe(1);
    expect(bare.err).toMatch(
      /dimension 2 is dynamic \('H'\); give the shape to compile for with --input-shape x=\?,2,\?,\?/,
    );
    expect(bare.err).toMatch(
      /graph inputs used as weights have no initializer: 'w'; give their values with --freeze w=FILE\.npy/,
    );
    writeFileSync(
      join(dir, "w.npy"),
      writeNpy([3, 2, 1, 1], Float32Array.from([1, 0, 0, 1, 1, 1])),
    );
    const flags = ["--input-shape", "x=1,2,5,7", "--freeze", `w=${join(dir, "w.npy")}`];
    const r = cnnc("import", model, "-o", join(dir, "d.cnn"), ...flags);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^  rewrote 1 nodes \(Mul by a constant as scale 1\)$/m);
    const run = cnnc(
      "run",
      model,
      "--cpu",
      "--input",
      "random",
      ...flags.slice(0, 1),
      "1,2,5,7",
      ...flags.slice(2),
    );
    expect(run.code, run.err).toBe(0);
    // the .npy's shape fixes H and W where --input-shape is not given
    writeFileSync(join(dir, "x.npy"), writeNpy([2, 2, 4, 3], new Float32Array(48).fill(1)));
    const byData = cnnc("run", model, "--cpu", "--input", join(dir, "x.npy"), ...flags.slice(2));
    expect(byData.code, byData.err).toBe(0);
    expect(byData.out).toMatch(/^output y \[2, 3, 4, 3\]$/m);
    const wrongShape = cnnc("build", model, "--input-shape", "x=1,3,5,7", ...flags.slice(2));
    expect(wrongShape.code).toBe(1);
    expect(wrongShape.err).toMatch(/--input-shape 1,3,5,7 does not fit the model's \[N, 2, H, W\]/);
    const noName = cnnc("build", model, "--freeze", join(dir, "w.npy"));
    expect(noName.err).toMatch(/--freeze '.*w\.npy': give it as name=file\.npy/);
  });

  it("run of a 1-D .onnx takes the [N, C, L] input ONNX Runtime takes, and writes [N, C, L]", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-onnx-1d-"));
    const model = join(dir, "c.onnx");
    writeFileSync(
      model,
      buildModel({
        input: ["N", 2, 6],
        output: "y",
        nodes: [{ op: "Conv", inputs: ["x", "w"], output: "y" }],
        initializers: [{ name: "w", dims: [3, 2, 3], dataType: 1, floatData: Array(18).fill(0.5) }],
      }),
    );
    writeFileSync(join(dir, "x.npy"), writeNpy([2, 2, 6], new Float32Array(24).fill(1)));
    const y = join(dir, "y.npy");
    const r = cnnc("run", model, "--cpu", "--input", join(dir, "x.npy"), "--output", y);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^output y \[2, 3, 4\]$/m);
    const written = readNpy(readFileSync(y));
    expect(written.shape).toEqual([2, 3, 4]);
    expect([...written.data]).toEqual(Array(24).fill(3));
    writeFileSync(join(dir, "bad.npy"), writeNpy([2, 6, 2], new Float32Array(24)));
    const bad = cnnc("run", model, "--cpu", "--input", join(dir, "bad.npy"));
    expect(bad.code).toBe(1);
  });

  it("build decomposes a separable kernel exactly, and --decompose-tol is checked", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-decompose-"));
    writeFileSync(
      join(dir, "blur.cnn"),
      "network Blur {\n  input x: [3, 32, 32]\n  blur: conv(8, 5, pad=same) -> relu\n  output last\n}\n",
    );
    // A Gaussian blur per channel pair, mixed by the 8x3 matrix o - c: scheme 2's matrix has
    // rank 2.
    const g = [1, 4, 6, 4, 1].map((v) => v / 16);
    const weight = new Float32Array(8 * 3 * 25);
    for (let o = 0; o < 8; o++)
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < 5; i++)
          for (let j = 0; j < 5; j++)
            weight[((o * 3 + c) * 5 + i) * 5 + j] = (o - c) * g[i]! * g[j]!;
    const tensors = new Map([
      ["blur.weight", { shape: [8, 3, 5, 5], data: weight }],
      ["blur.bias", { shape: [8], data: new Float32Array(8).fill(0.1) }],
    ]);
    writeFileSync(join(dir, "blur.safetensors"), writeSafetensors(tensors));
    const args = ["build", join(dir, "blur.cnn"), "--weights", join(dir, "blur.safetensors")];
    const quiet = cnnc(...args, "-o", join(dir, "b.cnnb"));
    expect(quiet.out).toMatch(/^wrote \S+b\.cnnb: [^\n]*\n$/); // one line; passes with --verbose
    const r = cnnc(...args, "-o", join(dir, "b.cnnb"), "--verbose");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /decompose-spatial: blur: rank 2 of 15, MACs 614,400 -> 112,640 \(-81\.7%\), weight error \S+, probe error \S+/,
    );
    const probe = Number(/probe error (\S+)/.exec(r.out)![1]);
    expect(probe).toBeLessThan(1e-6);
    expect(r.out).toMatch(/decomposed 1 of 1 k x k conv \(exact only\)/);
    const bad = cnnc(...args, "--decompose-tol", "2");
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--decompose-tol takes a number between 0 and 1, got '2'/);
    const o1 = cnnc(...args, "-O1", "--decompose-tol", "0.1");
    expect(o1.code).toBe(1);
    expect(o1.err).toMatch(/decompose-spatial pass does not run here/);
  });

  it("build --layout nhwc stores what it may NHWC and says how much; a bad layout is exit 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-layout-"));
    const out = join(dir, "r.cnnb");
    const r = cnnc("build", "examples/resnet18.cnn", "--layout", "nhwc", "-o", out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/, 21 of \d+ values NHWC\n/);
    const manifest = readFileSync(out);
    expect(manifest.toString("latin1")).toContain('"layout":"nhwc"');
    const plain = cnnc("build", "examples/resnet18.cnn", "-o", out);
    expect(plain.out).not.toMatch(/NHWC/);
    const bad = cnnc("build", "examples/resnet18.cnn", "--layout", "chwn", "-o", out);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/chwn/);
    expect(bad.err).not.toMatch(/\bat .*\.js:\d+/);
  });

  it("graph draws the network as an SVG with every layer and the shapes on its edges", () => {
    const dir = mkdtempSync(join(tmpdir(), "cnnc-graph-"));
    const out = join(dir, "tiny.svg");
    const r = cnnc("graph", "examples/tiny.cnn", "-o", out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^wrote .*tiny\.svg: 34 layers$/m);
    const svg = readFileSync(out, "utf8");
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+"/);
    for (const name of ["stem", "basic_1.branch_1.conv_1", "inception_1.concat_1", "dense_1"])
      expect(svg).toContain(`data-name="${name}"`);
    expect(svg).toContain(">conv 3x3/2 32<");
    expect(svg).toContain(">32x32x32<"); // an edge's shape
    // Every box has its edges: one path per input use and per output.
    expect(svg.match(/<path d="M/g)!.length).toBeGreaterThanOrEqual(34);
    const fused = cnnc("graph", "examples/tiny.cnn", "-O2", "-o", join(dir, "o2.svg"));
    expect(fused.out).toMatch(/: 1[0-9] layers$/m);
    expect(readFileSync(join(dir, "o2.svg"), "utf8")).toContain("+res +relu<");
  });

  it("ir prints the IR text", () => {
    const r = cnnc("ir", "examples/lenet5.cnn");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^graph LeNet5 \{$/m);
    expect(r.out).toMatch(/^  %c1 = conv2d\(%x, @c1.weight, @c1.bias\) \{filters=6 k=\[5,5\]/m);
  });
});
