// The runtime in a real browser: headless Chromium (WebGPU on SwiftShader) loads a page from
// 127.0.0.1 that imports cnnc/runtime as plain ES modules from dist/runtime (no bundler, no Node
// built-ins), fetches a bundle, runs it, and returns the output, compared with the reference.
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { writeBundle } from "../../compiler/bundle/index.js";
import { planGraph } from "../../compiler/codegen/index.js";
import { interpret } from "../../compiler/interp/index.js";
import { printIr } from "../../compiler/ir/index.js";
import { pipelines, runPasses } from "../../compiler/passes/index.js";
import { initWeights } from "../../compiler/weights/index.js";
import { lowerFile } from "../support/compile.js";

const flags = [
  "--enable-unsafe-webgpu",
  "--no-sandbox",
  "--headless=new",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];

const graph = lowerFile("examples/lenet5.cnn");
const source = { ...graph, constants: initWeights(graph, 7) };
const compiled = runPasses(source, pipelines.O2);
const bundle = writeBundle(
  planGraph(compiled, { planMemory: true }),
  compiled.constants!,
  printIr(compiled),
);

const page = `<!doctype html><meta charset="utf-8"><title>cnnc</title>
<script type="module">
  import { loadModel } from "/runtime/index.js";
  try {
    const model = await loadModel("/lenet5.cnnb");
    const x = Float32Array.from({ length: 2 * 1024 }, (_, i) => Math.sin(i * 0.1));
    const out = await model.run({ x }, { batch: 2 });
    window.result = { adapter: model.adapterName, y: Array.from(out.softmax_1) };
    model.dispose();
  } catch (e) {
    window.result = { error: String(e && e.stack || e) };
  }
</script>`;

let server: http.Server;
let browser: Browser;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname === "/") {
      res.writeHead(200, { "content-type": "text/html" }).end(page);
    } else if (url.pathname === "/lenet5.cnnb") {
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(bundle);
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
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: flags });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

it(
  "runs LeNet-5 in Chromium's WebGPU and matches the reference",
  { timeout: 120_000 },
  async () => {
    const tab = await browser.newPage();
    const requests: string[] = [];
    tab.on("request", (r) => requests.push(new URL(r.url()).pathname));
    await tab.goto(base);
    await tab.waitForFunction(
      () => (globalThis as unknown as { result?: unknown }).result !== undefined,
      null,
      { timeout: 90_000 },
    );
    const result = (await tab.evaluate(
      () => (globalThis as unknown as { result: unknown }).result,
    )) as {
      adapter?: string;
      y?: number[];
      error?: string;
    };
    expect(result.error).toBeUndefined();
    // The browser path never asks for the Node device helper.
    expect(requests).not.toContain("/runtime/node-device.js");
    const x = Float32Array.from({ length: 2 * 1024 }, (_, i) => Math.sin(i * 0.1));
    const want = interpret(source, source.constants, { x }, 2).get("softmax_1")!;
    expect(result.y).toHaveLength(20);
    result.y!.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-5));
  },
);
