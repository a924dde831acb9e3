// The README's pictures of the playground: serves dist/playground (run `npm run build` first)
// on 127.0.0.1, opens it in headless Chromium at the three widths its layout is held to
// (scripts/playground-layout.mjs), checks that no two panes overlap, and writes
// docs/playground-<width>.png: LeNet-5 run at 800 px, Tiny with an inception branch picked
// and run at 1400 px, GoogLeNet with its blocks folded and one unfolded at 2560 px; and
// docs/playground-train.png: Fashion LeNet trained 3 epochs in the Train tab at 1400 px.
import { readFileSync } from "node:fs";
import http from "node:http";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";
import { layoutProblems } from "./playground-layout.mjs";

const server = http.createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
  const file = normalize(join("dist/playground", path === "/" ? "index.html" : path));
  try {
    const type =
      extname(file) === ".html"
        ? "text/html"
        : extname(file) === ".gz"
          ? "application/octet-stream"
          : "text/javascript";
    res.writeHead(200, { "content-type": type }).end(readFileSync(file));
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--enable-unsafe-webgpu", "--no-sandbox", "--headless=new", "--no-first-run"],
});

const ran = (page) =>
  page.waitForFunction(
    '/ran in|error/.test(document.querySelector("#status")?.textContent ?? "")',
    null,
    {
      timeout: 300_000,
    },
  );

/** Shows an example, once its summary lists a layer named like `marker`. */
async function show(page, example, marker) {
  await page.selectOption("#examples", example);
  await page.waitForFunction(
    `document.querySelector("#summary")?.textContent?.includes(${JSON.stringify(marker)})`,
  );
}

/** Finds a layer with the graph's search box: picked, centred, its block unfolded. */
async function find(page, layer) {
  await page.fill("#search", layer);
  await page.press("#search", "Enter");
}

const shots = [
  {
    width: 1400,
    height: 860,
    name: "train",
    async act(page) {
      await show(page, "Fashion LeNet", "output_layer");
      await page.click("#tab-train");
      await page.click("#train-start");
      await page.waitForFunction(
        '/^trained|^training: (?!epoch)/.test(document.querySelector("#status")?.textContent ?? "")',
        null,
        { timeout: 600_000 },
      );
    },
  },
  {
    width: 800,
    height: 1000,
    async act(page) {
      await page.click("#run");
      await ran(page);
    },
  },
  {
    width: 1400,
    height: 860,
    async act(page) {
      await show(page, "Tiny", "inception_1");
      await find(page, "inception_1.branch_3.conv_2");
      await page.click("#run");
      await ran(page);
    },
  },
  {
    width: 2560,
    height: 1300,
    async act(page) {
      await show(page, "GoogLeNet", "inception5b");
      await page.click("#collapse");
      await find(page, "inception4a.branch_2.conv_bn_2.conv_1");
    },
  },
];

let failed = false;
for (const shot of shots) {
  const page = await browser.newPage({ viewport: { width: shot.width, height: shot.height } });
  await page.goto(base);
  await page.waitForSelector("#total-params", { state: "attached" });
  await shot.act(page);
  const problems = await layoutProblems(page);
  if (problems.length) {
    failed = true;
    console.error(`${shot.width} px: ${problems.join("; ")}`);
  }
  const path = `docs/playground-${shot.name ?? shot.width}.png`;
  // (at 800 px the panes stack and the page scrolls: the whole page)
  await page.screenshot({ path, fullPage: shot.width < 900 });
  console.log(`wrote ${path}: ${(await page.textContent("#status")).slice(0, 100)}`);
  await page.close();
}
await browser.close();
server.close();
process.exitCode = failed ? 1 : 0;
