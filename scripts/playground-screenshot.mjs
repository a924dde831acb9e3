// The README's picture of the playground: serves dist/playground (run `npm run build` first) on
// 127.0.0.1, opens it in headless Chromium, picks GoogLeNet's first inception block in the
// graph and writes docs/playground.png.
import { readFileSync } from "node:fs";
import http from "node:http";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
  const file = normalize(join("dist/playground", path === "/" ? "index.html" : path));
  try {
    const type = extname(file) === ".html" ? "text/html" : "text/javascript";
    const body = readFileSync(file);
    res.writeHead(200, { "content-type": type }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--enable-unsafe-webgpu", "--no-sandbox", "--headless=new", "--no-first-run"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
await page.goto(`http://127.0.0.1:${server.address().port}/`);
await page.waitForSelector("#total-params");
await page.selectOption("#examples", "Tiny");
await page.waitForFunction(
  'document.querySelector("#summary")?.textContent?.includes("inception_1")',
);
await page.click('#graph g.layer[data-name="inception_1.branch_3.conv_2"]');
await page.click("#run");
await page.waitForFunction(
  '/ran in|error/.test(document.querySelector("#status")?.textContent ?? "")',
  null,
  {
    timeout: 120_000,
  },
);
await page.screenshot({ path: "docs/playground.png" });
await browser.close();
server.close();
console.log("wrote docs/playground.png");
