// `npm run playground`: builds the playground and serves it on http://127.0.0.1:5173/ (or
// PORT). A static page: any web server can host dist/playground as it is.
import { readFileSync } from "node:fs";
import http from "node:http";
import { extname, join, normalize } from "node:path";

const types = { ".html": "text/html", ".js": "text/javascript", ".map": "application/json" };
const root = "dist/playground";
const port = Number(process.env.PORT ?? 5173);
http
  .createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const file = normalize(join(root, path === "/" ? "index.html" : path));
    if (!file.startsWith(root)) return void res.writeHead(404).end();
    try {
      const body = readFileSync(file);
      res
        .writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" })
        .end(body);
    } catch {
      res.writeHead(404).end();
    }
  })
  .listen(port, "127.0.0.1", () => console.log(`cnnc playground: http://127.0.0.1:${port}/`));
