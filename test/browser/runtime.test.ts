// The runtime in a real browser: headless Chromium (WebGPU on SwiftShader) loads a page from
// 127.0.0.1 that imports cnnc/runtime as plain ES modules from dist/runtime (no bundler, no Node
// built-ins), fetches a bundle, runs it, and returns the output, compared with the reference.
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { chromiumFlags, chromiumPath } from "../support/chromium.js";
import { interpret } from "../../compiler/interp/index.js";
import { initWeights } from "../../compiler/weights/index.js";
import { lowerFile } from "../support/compile.js";
import { compileGraph } from "../../compiler/compile.js";

// Three networks: LeNet-5, the separable example, and Tiny (residual adds and an inception
// concat), compiled here at -O2 as `cnnc build` would.
const networks = ["lenet5", "sepnet", "tiny"].map((name) => {
  const graph = lowerFile(`examples/${name}.cnn`);
  const source = { ...graph, constants: initWeights(graph, 7) };
  const bundle = compileGraph(source).bundle!;
  const input = graph.inputs[0]!;
  const size = 2 * input.shape.reduce((a, b) => a * b, 1);
  return { name, source, bundle, input: input.name, size, output: graph.outputs[0]!.name };
});

const sample = (size: number): Float32Array =>
  Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.1));

// Each network: stream the bundle (with progress), run a batch of 2, return the first output.
const page = `<!doctype html><meta charset="utf-8"><title>cnnc</title>
<script type="module">
  import { loadModel } from "/runtime/index.js";
  const nets = ${JSON.stringify(networks.map((n) => ({ name: n.name, input: n.input, size: n.size, output: n.output })))};
  const results = {};
  for (const n of nets) {
    try {
      const progress = [];
      const model = await loadModel("/" + n.name + ".cnnb", { onProgress: (loaded, total) => progress.push([loaded, total]) });
      const x = Float32Array.from({ length: n.size }, (_, i) => Math.sin(i * 0.1));
      const out = await model.run({ [n.input]: x }, { batch: 2 });
      results[n.name] = { adapter: model.adapterName, y: Array.from(out[n.output].data), shape: out[n.output].shape, progress };
      model.dispose();
    } catch (e) {
      results[n.name] = { error: String(e && e.stack || e) };
    }
  }
  window.result = results;
</script>`;

// A browser without WebGPU: the error a page can show.
const noGpuPage = `<!doctype html><meta charset="utf-8"><title>cnnc</title>
<script type="module">
  Object.defineProperty(Navigator.prototype, "gpu", { get: () => undefined });
  const { loadModel } = await import("/runtime/index.js");
  try {
    await loadModel("/lenet5.cnnb");
    window.result = { error: "loaded without WebGPU" };
  } catch (e) {
    window.result = { name: e.constructor.name, message: e.message };
  }
</script>`;

let server: http.Server;
let browser: Browser;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const net = networks.find((n) => url.pathname === `/${n.name}.cnnb`);
    if (url.pathname === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end(page);
    } else if (url.pathname === "/no-webgpu") {
      res.writeHead(200, { "content-type": "text/html" }).end(noGpuPage);
    } else if (net) {
      res
        .writeHead(200, {
          "content-type": "application/octet-stream",
          "content-length": String(net.bundle.length),
        })
        .end(net.bundle);
    } else if (url.pathname.startsWith("/runtime/") && extname(url.pathname) === ".js") {
      const file = normalize(join("dist", url.pathname));
      if (!file.startsWith(join("dist", "runtime"))) return void res.writeHead(404).end();
      try {
        res.writeHead(200, { "content-type": "text/javascript" }).end(readFileSync(file));
      } catch {
        res.writeHead(404).end();
      }
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumFlags });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

async function resultOf(path: string): Promise<{ result: unknown; requests: string[] }> {
  const tab = await browser.newPage();
  const requests: string[] = [];
  tab.on("request", (r) => requests.push(new URL(r.url()).pathname));
  await tab.goto(base + path);
  await tab.waitForFunction(
    () => (globalThis as unknown as { result?: unknown }).result !== undefined,
    null,
    { timeout: 100_000 },
  );
  const result = await tab.evaluate(() => (globalThis as unknown as { result: unknown }).result);
  await tab.close();
  return { result, requests };
}

it(
  "runs LeNet-5, SepNet and Tiny in Chromium's WebGPU; each matches the reference",
  { timeout: 150_000 },
  async () => {
    const { result, requests } = await resultOf("");
    const results = result as Record<
      string,
      { y?: number[]; shape?: number[]; error?: string; progress?: [number, number | null][] }
    >;
    // The browser path never asks for the Node device helper.
    expect(requests).not.toContain("/runtime/node-device.js");
    for (const n of networks) {
      const r = results[n.name]!;
      expect(r.error, n.name).toBeUndefined();
      const want = interpret(n.source, n.source.constants, { [n.input]: sample(n.size) }, 2).get(
        n.output,
      )!;
      expect(r.y, n.name).toHaveLength(want.length);
      expect(r.shape?.[0], `${n.name}: the output's shape starts with the batch`).toBe(2);
      expect(r.shape!.reduce((a, b) => a * b, 1)).toBe(want.length);
      const scale = Math.max(1, ...Array.from(want, Math.abs));
      r.y!.forEach((v, i) => expect(Math.abs(v - want[i]!) / scale, n.name).toBeLessThan(1e-4));
      // The bundle streamed in: progress reached the whole size, which Content-Length announced.
      const last = r.progress!.at(-1)!;
      expect(last).toEqual([n.bundle.length, n.bundle.length]);
    }
  },
);

it(
  "without WebGPU, loadModel rejects with a RuntimeError a page can show",
  { timeout: 60_000 },
  async () => {
    const { result } = await resultOf("no-webgpu");
    expect(result).toEqual({
      name: "RuntimeError",
      message: expect.stringMatching(/^WebGPU is not available in this browser/),
    });
  },
);
