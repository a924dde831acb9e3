// The playground in a real browser: it loads with LeNet-5, shows the summary (layer names and
// the totals of the paper) and the graph, reports an error at its line and column as you type,
// switches examples (the last one's status goes), searches, folds and picks layers, runs the
// network on WebGPU (SwiftShader here) with progress, round-trips a share link, exports a
// bundle and opens an ONNX model; all without a console error. Its layout holds at 800, 1400
// and 2560 px: no two panes overlap (`node scripts/playground-screenshot.mjs` checks the same
// rule as it takes the README's pictures).
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { chromiumFlags, chromiumPath } from "../support/chromium.js";
import { layoutProblems, layoutWidths } from "../../scripts/playground-layout.mjs";
import { exportOnnx } from "../../compiler/onnx/index.js";
import { initWeights, writeSafetensors } from "../../compiler/weights/index.js";
import { lowerFile } from "../support/compile.js";
import { parseTrainingBundle } from "../../runtime/train-format.js";

const lenet = lowerFile("examples/lenet5.cnn");
const onnxLenet = exportOnnx({ ...lenet, constants: initWeights(lenet, 5) });
const lenetWeights = writeSafetensors(
  new Map(
    [...initWeights(lenet, 6)].map(([name, data]) => [
      name,
      { shape: lenet.weights.find((w) => w.name === name)!.shape, data },
    ]),
  ),
);

let server: http.Server;
let browser: Browser;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const file = normalize(join("dist/playground", path === "/" ? "index.html" : path));
    const type = extname(file) === ".html" ? "text/html" : "text/javascript";
    try {
      const body = readFileSync(file);
      res.writeHead(200, { "content-type": type }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumFlags });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

async function open(width = 1400, height = 900): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base);
  await page.waitForSelector("#total-params", { state: "attached", timeout: 30_000 });
  return { page, errors };
}

const statusMatches = (page: Page, pattern: RegExp, timeout = 120_000) =>
  page.waitForFunction(
    `new RegExp(${JSON.stringify(pattern.source)}).test(document.querySelector("#status")?.textContent ?? "")`,
    null,
    { timeout },
  );

/** The editor's text, line by line as it shows it. */
const editorText = (page: Page): Promise<string> =>
  page.evaluate(
    'Array.from(document.querySelectorAll(".cm-line"), (l) => l.textContent).join("\\n")',
  );

it(
  "shows LeNet-5's summary and graph, flags errors at line:col, runs on WebGPU with progress",
  { timeout: 180_000 },
  async () => {
    const { page, errors } = await open();
    expect(await page.textContent("#total-params")).toBe("61,706");
    const summary = await page.textContent("#summary");
    for (const layer of ["c1", "s2", "c3", "s4", "c5", "f6", "output_layer"])
      expect(summary).toContain(layer);
    // units and connections as the paper counts them: C1 has 122,304 connections
    expect(await page.textContent('#summary tr[data-name="c1"]')).toContain("122,304");
    expect(await page.locator('#graph-canvas svg g.layer[data-name="c5"]').count()).toBe(1);
    // Pick a layer in the graph: its attributes, its summary row, its receptive field.
    await page.click('#graph-canvas g.layer[data-name="c5"]');
    expect(await page.textContent("#layer h2")).toBe("c5");
    expect(await page.textContent("#layer")).toContain("connections48,120");
    expect(await page.textContent("#field")).toContain("c5: each output sees 32x32 input pixels");
    // The Summary tab holds the table; the row of the picked layer is marked.
    await page.click("#tab-summary");
    expect(await page.isVisible("#summary")).toBe(true);
    expect(await page.isVisible("#graph-viewport")).toBe(false);
    expect(await page.getAttribute('#summary tr[data-name="c5"]', "class")).toBe("selected");
    await page.click("#tab-graph");

    // Zoom: the buttons scale the drawing.
    const scale = (): Promise<number> =>
      page.evaluate(
        'new DOMMatrix(getComputedStyle(document.querySelector("#graph-canvas")).transform).a',
      );
    const before = await scale();
    await page.click("#zoom-in");
    expect(await scale()).toBeCloseTo(before * 1.25, 5);

    // Type an error: the same file:line:col message the CLI prints.
    await page.click(".cm-content");
    await page.keyboard.press("Control+End");
    await page.keyboard.type("\nnetwork Bad {\n  input x: [1, 8, 8]\n  conv(4, 9)\n}\n");
    await page.waitForSelector("#problems:not([hidden])", { timeout: 10_000 });
    expect(await page.textContent("#problems")).toMatch(/main\.cnn:\d+:\d+: error: /);

    // Another example, then Run: progress per pipeline, then the result and the adapter.
    await page.selectOption("#examples", "Tiny");
    await page.waitForFunction(
      'document.querySelector("#summary")?.textContent?.includes("inception_1")',
    );
    const seen = new Set<string>();
    const poll = setInterval(() => {
      void page
        .textContent("#status")
        .then((t) => t && seen.add(t))
        .catch(() => {});
    }, 50);
    await page.click("#run");
    await statusMatches(page, /ran in|error/);
    clearInterval(poll);
    const status = (await page.textContent("#status"))!;
    expect(status).toMatch(/ran in [\d.]+ ms .* on .+top 5/);
    expect([...seen].some((t) => /compiling pipelines: \d+ of \d+/.test(t))).toBe(true);
    expect(await page.textContent("#adapter")).toMatch(/swiftshader/i);
    // Switching examples: the last one's result goes with it.
    await page.selectOption("#examples", "SepNet");
    expect(await page.textContent("#status")).toBe("ready");
    expect(errors).toEqual([]);
  },
);

it(
  "finds a layer, folds blocks, shares the source in a link, exports a bundle, opens ONNX",
  { timeout: 180_000 },
  async () => {
    const { page, errors } = await open();
    await page.selectOption("#examples", "GoogLeNet");
    await page.waitForFunction(
      'document.querySelector("#summary")?.textContent?.includes("inception5b")',
    );
    const boxes = () => page.locator("#graph-canvas g.layer").count();
    const all = await boxes();
    await page.click("#collapse");
    const folded = await boxes();
    expect(folded).toBeLessThan(all / 5);
    expect(await page.locator('#graph-canvas g.layer[data-block="inception4a"]').count()).toBe(1);
    // Search a layer inside a folded block: its block unfolds, the layer is picked.
    await page.fill("#search", "inception4a.branch_2.conv_bn_2.conv_1");
    await page.press("#search", "Enter");
    expect(await page.textContent("#layer h2")).toBe("inception4a.branch_2.conv_bn_2.conv_1");
    expect(await page.locator('#graph-canvas g.layer[data-block="inception4a"]').count()).toBe(0);
    expect(await boxes()).toBeGreaterThan(folded);

    // Share: the link carries the source; opened afresh, it shows the same network.
    await page.selectOption("#examples", "Tiny");
    await page.click(".cm-content");
    await page.keyboard.press("Control+End");
    await page.keyboard.type("# shared\n");
    await page.click("#share");
    await statusMatches(page, /link/, 10_000);
    const link = page.url();
    expect(link).toMatch(/#src=[\w-]+$/);
    const source = await editorText(page);
    const other = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await other.goto(link);
    await other.waitForFunction(
      'document.querySelector("#summary")?.textContent?.includes("inception_1")',
    );
    const shared = await editorText(other);
    expect(shared).toBe(source);
    expect(shared).toContain("# shared");
    await other.close();

    // Export the bundle: a download of a .cnnb (its magic first).
    const download = page.waitForEvent("download");
    await page.selectOption("#export", "cnnb");
    const file = await download;
    expect(file.suggestedFilename()).toBe("Tiny.cnnb");
    const path = await file.path();
    expect(readFileSync(path).subarray(0, 4).toString()).toBe("CNNB");

    // Weights for the network shown: Run uses them, and says so; weights that do not fit
    // are refused by name.
    await page.selectOption("#examples", "LeNet-5");
    await page.setInputFiles("#upload", {
      name: "lenet5.safetensors",
      mimeType: "application/octet-stream",
      buffer: Buffer.from(lenetWeights),
    });
    await statusMatches(page, /weights: lenet5\.safetensors \(10 tensors\)/, 10_000);
    await page.click("#run");
    await statusMatches(page, /ran in|error/);
    expect(await page.textContent("#status")).toMatch(/top 5 \(weights lenet5\.safetensors, /);
    // A training bundle of it: the Train tab's optimiser, starting from those weights.
    const trainDownload = page.waitForEvent("download");
    await page.selectOption("#export", "train");
    const trainFile = await trainDownload;
    expect(trainFile.suggestedFilename()).toBe("LeNet5.train.cnnb");
    const trainBundle = parseTrainingBundle(readFileSync(await trainFile.path()));
    expect(trainBundle.plan.network).toBe("LeNet5");
    expect(trainBundle.optimizer.kind).toBe("adam");
    expect(trainBundle.weights.get("c1.weight")).toEqual(initWeights(lenet, 6).get("c1.weight"));
    await statusMatches(page, /exported LeNet5\.train\.cnnb: a training bundle \(adam, /);
    await page.selectOption("#examples", "Tiny");
    await page.waitForFunction(
      'document.querySelector("#summary")?.textContent?.includes("inception_1")',
    );
    await page.setInputFiles("#upload", {
      name: "lenet5.safetensors",
      mimeType: "application/octet-stream",
      buffer: Buffer.from(lenetWeights),
    });
    await page.click("#run");
    await statusMatches(page, /ran in|error/);
    expect(await page.textContent("#status")).toMatch(/error: the weights do not fit the network/);

    // Open an ONNX model (LeNet-5 exported by cnnc): imported as .cnn, with its weights.
    await page.setInputFiles("#upload", {
      name: "lenet5.onnx",
      mimeType: "application/octet-stream",
      buffer: Buffer.from(onnxLenet),
    });
    await statusMatches(page, /layers imported, with its weights/, 30_000);
    await page.waitForFunction('document.querySelector("#total-params")?.textContent === "61,706"');
    expect(await page.textContent("#mode")).toMatch(/lenet5\.onnx: imported as \.cnn/);
    expect(errors).toEqual([]);
  },
);

it(
  "keeps every pane in a box of its own at 800, 1400 and 2560 px",
  { timeout: 120_000 },
  async () => {
    for (const width of layoutWidths) {
      const { page, errors } = await open(width, width < 900 ? 1000 : width < 2000 ? 860 : 1300);
      for (const example of ["LeNet-5", "GoogLeNet", "Tiny"]) {
        await page.selectOption("#examples", example);
        await page.waitForTimeout(400); // (the linter's 250 ms, then the render)
        expect(await layoutProblems(page), `${width} px, ${example}`).toEqual([]);
      }
      await page.click("#tab-summary");
      expect(await layoutProblems(page), `${width} px, summary tab`).toEqual([]);
      expect(errors).toEqual([]);
      await page.close();
    }
  },
);

it(
  "trains Fashion LeNet on its Fashion-MNIST sample in the page, draws the loss, then runs with the trained weights",
  { timeout: 600_000 },
  async () => {
    const { page, errors } = await open();
    await page.selectOption("#examples", "Fashion LeNet");
    await page.waitForTimeout(400);
    await page.click("#tab-train");
    expect(await page.isVisible("#train")).toBe(true);
    expect(await layoutProblems(page)).toEqual([]);
    await page.fill("#train-epochs", "1");
    await page.click("#train-start");
    await statusMatches(page, /^trained|^training: (?!epoch)/, 540_000);
    const status = (await page.textContent("#status"))!;
    expect(status).toMatch(
      /^trained FashionLeNet for 1 epoch in [\d.]+ s on .*: test accuracy [\d.]+% \(500 images\); Run uses these weights$/,
    );
    // 1 epoch of 2,000 images: far above chance (10%); the reference reaches about 70%
    expect(Number(/test accuracy ([\d.]+)%/.exec(status)![1])).toBeGreaterThan(50);
    expect(await page.textContent("#train-result")).toMatch(
      /^epoch 1: loss [\d.]+, training accuracy/,
    );
    // the live curve: a point every 4 steps and at each epoch's end (63 steps an epoch)
    const points = await page.getAttribute("#train-curve polyline", "points");
    expect(points!.trim().split(/\s+/).length).toBe(16);
    expect(await page.textContent("#train-curve-note")).toMatch(
      /^training loss \(cross-entropy\) of the last few steps: [\d.]+$/,
    );
    await page.screenshot({ path: "dist/playground-train.png" });
    await page.click("#run");
    await statusMatches(page, /ran in|error/);
    expect(await page.textContent("#status")).toMatch(/weights trained in the page/);
    expect(errors).toEqual([]);
  },
);
