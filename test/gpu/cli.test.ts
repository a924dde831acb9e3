// `cnnc build` and `cnnc run` as users run them: the built binary on a real adapter.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readNpy, writeNpy } from "../../cli/npy.js";
import { parseBundle } from "../../runtime/index.js";
import { adapterChoice, adapterWords } from "./support.js";

const dir = mkdtempSync(join(tmpdir(), "cnnc-run-"));

function cnnc(...args: string[]) {
  return cnncWith(process.env, ...args);
}

function cnncWith(env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync(process.execPath, ["dist/cli/bin.js", ...args], { encoding: "utf8", env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const noStack = /\bat .*\.js:\d+/;

describe("cnnc build and run", () => {
  const bundle = join(dir, "l.cnnb");

  it("builds LeNet-5 and runs it on random input, printing the adapter and the top classes", () => {
    const b = cnnc(
      ...["build", "examples/lenet5.cnn", "-o", bundle, "--emit-dir", join(dir, "parts")],
      "--verbose",
    );
    expect(b.code, b.err).toBe(0);
    expect(b.out).toMatch(
      /^wrote .*l\.cnnb: \d+ kernels, \d+ dispatches, [\d,]+ bytes, [\d.]+ KiB of activations per batch item$/m,
    );
    expect(b.out).toMatch(/^ {2}fuse-activation: fused 4 activations$/m);
    expect(readFileSync(join(dir, "parts", "kernels", "0.wgsl"), "utf8")).toMatch(
      // (c1 and c3 share one shader, their sizes in the uniform)
      /^\/\/ used by: c1, c3\nstruct Params \{ batch: u32, C: u32, /,
    );
    expect(readFileSync(join(dir, "parts", "ir.txt"), "utf8")).toMatch(/^graph LeNet5 \{/);
    const r = cnnc("run", bundle, "--input", "random", "--batch", "2");
    expect(r.code, r.err).toBe(0);
    // quiet: not a line from Dawn (its llvmpipe limit notices are filtered out)
    expect(r.err).toBe("");
    // a .cnn without --weights says its weights are made up, once, and nothing else
    const fromSource = cnnc("run", "examples/lenet5.cnn", "--input", "random");
    expect(fromSource.err).toBe(
      "cnnc: note: no --weights: LeNet5 runs with generated weights (--seed 0), not trained ones\n",
    );
    // --quiet (before or after the command): the result alone, no note, no Dawn line
    for (const args of [
      ["--quiet", "run", "examples/lenet5.cnn", "--input", "random"],
      ["run", "examples/lenet5.cnn", "--input", "random", "-q"],
    ]) {
      const quiet = cnnc(...args);
      expect(quiet.code, quiet.err).toBe(0);
      expect(quiet.err, args.join(" ")).toBe("");
      expect(quiet.out).toMatch(/^output softmax_1 \[1, 10\]$/m);
    }
    expect(r.out).toMatch(new RegExp(`^adapter: ${adapterWords.source.slice(1)}`, "m"));
    expect(r.out).toMatch(/^output softmax_1 \[2, 10\]$/m);
    expect(r.out).toMatch(/^ {2}sample 1: top 5: \d \(0\.\d+\)/m);
  });

  it("tune times each layer's kernels, checks the whole network both ways, writes a bundle no slower", () => {
    const out = join(dir, "lenet.tuned.cnnb");
    // (Mesa's shader cache in a folder of its own: the helper's work is found there)
    const env = { ...process.env, MESA_SHADER_CACHE_DIR: join(dir, "mesa-cache") };
    const r = cnncWith(env, "tune", "examples/lenet5.cnn", "--runs", "1", "-o", out, "--verbose");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe("");
    // on llvmpipe a helper process compiles candidates ahead (cli/tune-ahead.ts), and the
    // tuner found what it compiled in the cache (else it says it stopped the helper)
    const helper =
      /^compiled ahead: \d+ of the \d+ candidates measured by a helper process on another core, \d+ here while it compiled$/m;
    if (adapterChoice === "llvmpipe") expect(r.out).toMatch(helper);
    else expect(r.out).not.toMatch(/^compiled ahead/m);
    expect(r.out).toMatch(
      /^conv2d \[1,32,32\] -> \[6,28,28\]\s+1\s+\d+\/\d+\s+[\d.]+\s+[\d.]+\s+\S+/m,
    );
    // up to 9 pairs: fewer where the first settle the verdict
    expect(r.out).toMatch(
      /^whole network at batch 1: GPU time alternately, ([5-8] pairs \(of up to 9: the rest could not change the verdict\)|9 pairs);/m,
    );
    const said =
      /tuned faster in (\d) of ([5-9]) pairs, median ([\d.]+)x \(sign test p = [\d.e-]+\)/.exec(
        r.out,
      );
    expect(said, r.out).not.toBeNull();
    const manifest = parseBundle(readFileSync(out)).manifest;
    // the bundle written is the one the verdict chose: tuned (with its record) only when it won
    // most pairs and the median pair (printed to two decimals: 1.00x may be just above 1)
    const kept = manifest.tuning !== undefined;
    const [wins, pairs, speedup] = [1, 2, 3].map((k) => Number(said![k])) as [
      number,
      number,
      number,
    ];
    if (kept) expect(wins * 2 > pairs && speedup >= 1, r.out).toBe(true);
    else expect(wins * 2 <= pairs || speedup <= 1, r.out).toBe(true);
    expect(r.out).toMatch(kept ? /^wrote .*lenet\.tuned\.cnnb$/m : /untuned: the tuned kernels/);
  });

  // The record's format and the flags are the CLI's, whatever the adapter: measured once, on
  // llvmpipe (SwiftShader's exhaustive tuning of LeNet-5 took 130 s of the suite's 20 minutes;
  // its kernels and tuning are tested in tune.test.ts).
  it.skipIf(adapterChoice === "swiftshader")(
    "tune --record keeps every candidate's time per layer for the cost model; --kernels picks families",
    () => {
      const data = join(dir, "measured.json");
      const args = ["tune", "examples/lenet5.cnn", "--runs", "1", "-o", join(dir, "l.rec.cnnb")];
      const r = cnnc(...args, "--kernels", "blocked,gemv", "--record", data);
      expect(r.code, r.err).toBe(0);
      const kept = JSON.parse(readFileSync(data, "utf8")) as {
        adapter: string;
        layers: { network: string; kind: string; c: number; ms: Record<string, number> }[];
      };
      expect(kept.adapter).toMatch(adapterWords);
      expect(kept.layers.map((l) => `${l.kind} ${l.c}`)).toEqual([
        "conv 1",
        "conv 6",
        "conv 16",
        "dense 120",
        "dense 84",
      ]);
      // every blocked candidate (all were measured) and the reference, the GPU or CPU default
      const first = kept.layers[0]!.ms;
      expect(Object.keys(first).filter((k) => k.startsWith("blocked ")).length).toBe(5);
      expect(Object.values(first).every((ms) => ms > 0)).toBe(true);
      expect(r.out).toMatch(/^conv2d \[1,32,32\] -> \[6,28,28\]\s+1\s+(\d+)\/\1\s/m);
      // measured again: the same layers replaced, not added
      expect(cnnc(...args, "--kernels", "gemv", "--record", data).code).toBe(0);
      expect((JSON.parse(readFileSync(data, "utf8")) as typeof kept).layers.length).toBe(5);
      const bad = cnnc(...args, "--kernels", "gemm,fft");
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/--kernels: unknown kernel family 'fft'; the families are gemm, /);
      expect(bad.err).not.toMatch(noStack);
    },
  );

  // Tiny's 32-channel 3x3 convs take Winograd by default; --layout nhwc gives its GEMMs the
  // permuted weights. Both are derived from the bundle's tensors at load; --cpu once ran such
  // layers with zero weights (10x the output's scale away from the GPU).
  for (const layout of ["default", "nhwc"] as const) {
    it(`a bundle with derived weights (${layout} layout) runs the same on --cpu and the GPU`, () => {
      const b = join(dir, `tiny-${layout}.cnnb`);
      const build = cnnc(
        "build",
        "examples/tiny.cnn",
        "-o",
        b,
        ...(layout === "nhwc" ? ["--layout", "nhwc"] : []),
      );
      expect(build.code, build.err).toBe(0);
      const x = Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.sin(i / 7));
      writeFileSync(join(dir, "tiny-x.npy"), writeNpy([1, 3, 64, 64], x));
      const run = (...extra: string[]) => {
        const out = join(dir, `tiny-${layout}-${extra.length}.npy`);
        const r = cnnc("run", b, "--input", join(dir, "tiny-x.npy"), "--output", out, ...extra);
        expect(r.code, r.err).toBe(0);
        return readNpy(readFileSync(out));
      };
      const gpuOut = run();
      const cpuOut = run("--cpu");
      const scale = Math.max(...Array.from(cpuOut.data, Math.abs));
      expect(scale).toBeGreaterThan(0);
      for (let i = 0; i < gpuOut.data.length; i++)
        expect(Math.abs(gpuOut.data[i]! - cpuOut.data[i]!) / scale).toBeLessThan(1e-4);
    });
  }

  it("GPU and --cpu agree through .npy files; --bench prints a median and its parts", () => {
    const x = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.cos(i));
    writeFileSync(join(dir, "x.npy"), writeNpy([3, 1, 32, 32], x));
    const gpu = cnnc(
      "run",
      bundle,
      "--input",
      join(dir, "x.npy"),
      "--output",
      join(dir, "gpu.npy"),
      "--bench",
      "2",
    );
    expect(gpu.code, gpu.err).toBe(0);
    expect(gpu.out).toMatch(/^latency: median [\d.]+ ms, min [\d.]+ ms over 2 runs \(batch 3/m);
    expect(gpu.out).toMatch(
      /^ {2}with the input already on the GPU: median [\d.]+ ms; GPU work alone: [\d.]+ ms$/m,
    );
    const cpu = cnnc(
      "run",
      bundle,
      "--input",
      join(dir, "x.npy"),
      "--cpu",
      "--output",
      join(dir, "cpu.npy"),
    );
    expect(cpu.code, cpu.err).toBe(0);
    expect(cpu.out).toMatch(/^adapter: CPU reference interpreter/m);
    const a = readNpy(readFileSync(join(dir, "gpu.npy")));
    const b = readNpy(readFileSync(join(dir, "cpu.npy")));
    expect(a.shape).toEqual([3, 10]);
    for (let i = 0; i < a.data.length; i++)
      expect(Math.abs(a.data[i]! - b.data[i]!)).toBeLessThan(1e-5);
  });

  it("runs a .cnn directly, with trained weights from safetensors", () => {
    const b = cnnc(
      "build",
      "examples/sepnet.cnn",
      "-o",
      join(dir, "s.cnnb"),
      "--emit-dir",
      join(dir, "sparts"),
      "--seed",
      "9",
    );
    expect(b.code, b.err).toBe(0);
    const weights = join(dir, "sparts", "weights.safetensors");
    const fromBundle = cnnc("run", join(dir, "s.cnnb"), "--input", "random", "--cpu");
    const fromSource = cnnc(
      "run",
      "examples/sepnet.cnn",
      "--weights",
      weights,
      "--input",
      "random",
      "--cpu",
    );
    expect(fromSource.code, fromSource.err).toBe(0);
    expect(fromSource.out.split("\n").slice(1)).toEqual(fromBundle.out.split("\n").slice(1));
  });

  it("user errors are one clear line and exit 1", () => {
    const corrupt = readFileSync(bundle);
    corrupt[corrupt.length - 5] = corrupt[corrupt.length - 5]! ^ 0xff;
    writeFileSync(join(dir, "bad.cnnb"), corrupt);
    const cases: [string[], RegExp][] = [
      [
        ["run", join(dir, "bad.cnnb"), "--input", "random"],
        /invalid bundle \(weight-checksum\): weight '[\w.]+' does not match its checksum/,
      ],
      [["run", join(dir, "nope.cnnb"), "--input", "random"], /cannot read/],
      [["run", "README.md", "--input", "random"], /invalid bundle \(magic\)/],
      [
        ["run", bundle, "--input", join(dir, "x.npy"), "--batch", "2"],
        /input 'x' expects shape \[2, 1, 32, 32\]; '.*x\.npy' is \(3, 1, 32, 32\)/,
      ],
      [["run", bundle], /give --input/],
      [["run", bundle, "--input", "y=random"], /the model has no input 'y'; its inputs: x/],
      [
        [
          "build",
          "examples/lenet5.cnn",
          "-o",
          join(dir, "w.cnnb"),
          "--weights",
          join(dir, "sparts", "weights.safetensors"),
        ],
        /the weights do not fit the network:\n {2}'.*' lacks 'c1\.weight' \(\[6,1,5,5\]\)/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = cnnc(...args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(noStack);
    }
  });
});
