// The package as a user gets it: `npm pack`'s tarball, unpacked into an app's node_modules.
// - esbuild bundles a page that imports `cnnc/runtime` with `--platform=browser` and no other
//   flag (no externals): the `browser` condition picks an entry that names no Node module;
// - TypeScript 5 type-checks that page against the package's own .d.ts (library checks on,
//   so a GPU type that does not resolve fails), with @webgpu/types installed as its dependency;
// - headless Chromium runs the bundle: an image drawn on a canvas made an input by
//   `imageToInput`, LeNet-5 run on it, the output compared with the CPU reference; then a
//   training bundle (`cnnc build --train`) trained three steps by `loadTrainer`, its weights
//   compared with the float64 reference trainer's.
import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileGraph } from "../../compiler/compile.js";
import { interpret } from "../../compiler/interp/index.js";
import { initWeights } from "../../compiler/weights/index.js";
import { lowerFile, lowerText } from "../support/compile.js";
import { writeTrainingBundle } from "../../compiler/bundle/write.js";
import { trainingGraph } from "../../compiler/train/graph.js";
import { trainingInit } from "../../compiler/train/init.js";
import { trainingPlan } from "../../compiler/train/plan.js";
import { ReferenceTrainer } from "../../compiler/train/trainer.js";
import { chromiumFlags, chromiumPath } from "../support/chromium.js";

const graph = lowerFile("examples/lenet5.cnn");
const source = { ...graph, constants: initWeights(graph, 3) };
const bundle = compileGraph(source).bundle!;

// The training bundle: batch norm, pooling, a classifier; three Adam steps on a fixed batch.
const small = lowerText(`network S {
  input x: [2, 6, 6]
  conv(4, 3, pad=1, bias=false) -> bn -> relu -> maxpool(2)
  flatten -> dense(3) -> softmax
}`);
const adam = { kind: "adam", lr: 0.01 } as const;
const start = trainingInit(trainingGraph(small).graph, 4);
const trainBundle = writeTrainingBundle(
  trainingPlan(trainingGraph(small), { optimizer: adam, target: "cpu" }),
  start,
  adam,
);
const batchX = Float32Array.from({ length: 4 * 72 }, (_, i) => Math.sin(i * 0.37));
const batchY = [0, 1, 2, 0];

// The page: a 40x30 colour gradient drawn on a canvas, made a 32x32 grey input both from the
// canvas (imageToInput: the browser decodes) and from its pixels (pixelsToInput), then run.
const page = `import { imageToInput, loadModel, loadTrainer, pixelsToInput, type Tensor } from "cnnc/runtime";

async function main(): Promise<unknown> {
  const canvas = new OffscreenCanvas(40, 30);
  const g = canvas.getContext("2d")!;
  const gradient = g.createLinearGradient(0, 0, 40, 30);
  gradient.addColorStop(0, "#ff2000");
  gradient.addColorStop(1, "#0030ff");
  g.fillStyle = gradient;
  g.fillRect(0, 0, 40, 30);
  const options = { width: 32, height: 32, channels: 1 as const, mean: [0.5], std: [0.25] };
  const x: Tensor = await imageToInput(canvas, options);
  const same = pixelsToInput(g.getImageData(0, 0, 40, 30), options);
  const model = await loadModel("/lenet5.cnnb");
  const { softmax_1 } = await model.run({ x });
  model.dispose();
  // @ts-expect-error: an output is a Tensor, not an array (fails if the types were any)
  const wrong: Float32Array = softmax_1;
  void wrong;
  const trainer = await loadTrainer("/s.train.cnnb");
  const bx = Float32Array.from({ length: 4 * 72 }, (_, i) => Math.sin(i * 0.37));
  for (let s = 0; s < 3; s++) trainer.step(bx, [0, 1, 2, 0]);
  const trained = Object.fromEntries([...(await trainer.weights())].map(([k, v]) => [k, Array.from(v)]));
  trainer.dispose();
  return {
    trained,
    adapter: model.adapterName,
    x: Array.from(x.data),
    xShape: x.shape,
    same: Array.from(same.data),
    y: Array.from(softmax_1!.data),
    yShape: softmax_1!.shape,
  };
}

main().then(
  (r) => ((globalThis as { result?: unknown }).result = r),
  (e: Error) => ((globalThis as { result?: unknown }).result = { error: String(e.stack ?? e) }),
);
`;

let app: string;
let script: string;
let server: http.Server;
let browser: Browser;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "cnnc-pkg-"));
  const out = execFileSync(
    "npm",
    ["pack", "--ignore-scripts", "--json", "--pack-destination", dir],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
  const tarball = join(dir, (JSON.parse(out) as { filename: string }[])[0]!.filename);
  app = join(dir, "app");
  mkdirSync(join(app, "node_modules", "@webgpu"), { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", join(app, "node_modules")]);
  renameSync(join(app, "node_modules", "package"), join(app, "node_modules", "cnnc"));
  // What npm would install beside it: its dependency @webgpu/types (the one package the
  // runtime's types need).
  symlinkSync(resolve("node_modules/@webgpu/types"), join(app, "node_modules/@webgpu/types"));
  writeFileSync(join(app, "page.ts"), page);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", type: "module" }));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

describe("the packed package in an app", () => {
  it("bundles cnnc/runtime for the browser with no flags and no Node module", async () => {
    const result = await build({
      absWorkingDir: app,
      entryPoints: ["page.ts"],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    script = result.outputFiles[0]!.text;
    expect(script).not.toMatch(/["']node:|["']webgpu["']|node-device/);
  });

  it("type-checks against the package's own declarations on TypeScript 5", () => {
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "ESNext",
          moduleResolution: "bundler",
          lib: ["ES2022", "DOM"],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["page.ts"],
      }),
    );
    const tsc = resolve("node_modules/typescript/bin/tsc");
    let output = "";
    try {
      execFileSync(process.execPath, [tsc, "-p", app], { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      output = String((e as { stdout?: string }).stdout ?? e);
    }
    expect(output).toBe("");
    const version = JSON.parse(readFileSync("node_modules/typescript/package.json", "utf8")) as {
      version: string;
    };
    expect(version.version).toMatch(/^5\./);
  });

  it("runs in Chromium: an image made an input, LeNet-5 on it, the reference's answer; a training bundle trained", async () => {
    expect(script, "the bundle test ran first").toBeDefined();
    server = http.createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
      if (path === "/")
        res
          .writeHead(200, { "content-type": "text/html" })
          .end(
            '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>',
          );
      else if (path === "/page.js")
        res.writeHead(200, { "content-type": "text/javascript" }).end(script);
      else if (path === "/lenet5.cnnb")
        res.writeHead(200, { "content-type": "application/octet-stream" }).end(bundle);
      else if (path === "/s.train.cnnb")
        res.writeHead(200, { "content-type": "application/octet-stream" }).end(trainBundle);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumFlags });
    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await tab.waitForFunction(
      () => (globalThis as { result?: unknown }).result !== undefined,
      null,
      {
        timeout: 100_000,
      },
    );
    const r = (await tab.evaluate(() => (globalThis as unknown as { result: unknown }).result)) as {
      error?: string;
      adapter: string;
      x: number[];
      xShape: number[];
      same: number[];
      y: number[];
      yShape: number[];
      trained: Record<string, number[]>;
    };
    expect(r.error).toBeUndefined();
    expect(r.adapter).toMatch(/swiftshader/i);
    expect(r.xShape).toEqual([1, 1, 32, 32]);
    expect(r.x).toEqual(r.same);
    // The gradient runs from red (luma 95 of 255, -0.5 normalised) to blue (57, -1.1).
    expect(Math.max(...r.x) - Math.min(...r.x)).toBeGreaterThan(0.4);
    expect(r.yShape).toEqual([1, 10]);
    const want = interpret(source, source.constants, { x: Float32Array.from(r.x) }, 1).get(
      "softmax_1",
    )!;
    want.forEach((v, i) => expect(Math.abs(r.y[i]! - v)).toBeLessThan(1e-5));
    // the page trained: three steps of the bundle's Adam, as the float64 reference takes them
    const ref = new ReferenceTrainer(small, start, adam);
    for (let s = 0; s < 3; s++) ref.step(batchX, batchY, adam.lr, s);
    const reference = ref.weights();
    expect(Object.keys(r.trained).sort()).toEqual([...reference.keys()].sort());
    for (const [name, w] of reference) {
      const got = r.trained[name]!;
      const scale = Math.max(1e-4, ...w.map(Math.abs));
      const worst = Math.max(...got.map((v, i) => Math.abs(v - w[i]!)));
      expect([name, worst / scale < 2e-3]).toEqual([name, true]);
      expect(got).not.toEqual(Array.from(start.get(name)!)); // it moved (running stats too)
    }
    await tab.close();
  });
});
