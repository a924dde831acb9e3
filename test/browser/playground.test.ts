// The playground in a real browser: it loads with LeNet-5, shows the summary (layer names and
// the totals of the paper) and the graph, reports an error at its line and column as you type,
// switches examples, and runs the network on WebGPU (SwiftShader here), all without a console
// error. `node scripts/playground-screenshot.mjs` takes the README's picture the same way.
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { chromiumFlags, chromiumPath } from "../support/chromium.js";

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

async function open(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base);
  return { page, errors };
}

it(
  "shows LeNet-5's summary and graph, flags errors at line:col, runs on WebGPU",
  { timeout: 120_000 },
  async () => {
    const { page, errors } = await open();
    await page.waitForSelector("#total-params", { timeout: 30_000 });
    expect(await page.textContent("#total-params")).toBe("61,706");
    const summary = await page.textContent("#summary");
    for (const layer of ["c1", "s2", "c3", "s4", "c5", "f6", "output_layer"])
      expect(summary).toContain(layer);
    expect(await page.locator('#graph svg g.layer[data-name="c5"]').count()).toBe(1);
    // Pick a layer: the receptive-field view follows (C5 sees 32x32).
    await page.click('#graph g.layer[data-name="c5"]');
    expect(await page.textContent("#field")).toContain("c5: each output sees 32x32 input pixels");

    // Type an error: the same file:line:col message the CLI prints.
    await page.click(".cm-content");
    await page.keyboard.press("Control+End");
    await page.keyboard.type("\nnetwork Bad {\n  input x: [1, 8, 8]\n  conv(4, 9)\n}\n");
    await page.waitForSelector("#problems:not([hidden])", { timeout: 10_000 });
    expect(await page.textContent("#problems")).toMatch(/main\.cnn:\d+:\d+: error: /);

    // Another example, then Run.
    await page.selectOption("#examples", "Tiny");
    await page.waitForFunction(
      'document.querySelector("#summary")?.textContent?.includes("inception_1")',
    );
    await page.click("#run");
    await page.waitForFunction(
      '/ran in|error/.test(document.querySelector("#status")?.textContent ?? "")',
      null,
      {
        timeout: 90_000,
      },
    );
    expect(await page.textContent("#status")).toMatch(/ran in [\d.]+ ms on .+top 5/);
    expect(errors).toEqual([]);
  },
);
