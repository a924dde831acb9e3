// What `npm pack` ships: the built library, CLI and runtime with their types, the examples, the
// README and the LICENSE that package.json names; no source map that points at a file the
// package does not hold; not the playground (a page of the repository: `npm run playground`).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

describe("the npm package", () => {
  it("holds what users import and run, the LICENSE, and no dangling source map", () => {
    // --ignore-scripts: no rebuild of dist under the tests that use it
    const out = execFileSync("npm", ["pack", "--dry-run", "--ignore-scripts", "--json"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    for (const wanted of [
      "LICENSE",
      "README.md",
      "package.json",
      "dist/cli/bin.js",
      "dist/compiler/index.js",
      "dist/compiler/index.d.ts",
      "dist/runtime/index.js",
      "dist/runtime/index.d.ts",
      "examples/lenet5.cnn",
    ])
      expect(files).toContain(wanted);
    expect(readFileSync("LICENSE", "utf8")).toMatch(/^MIT License/);
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { license: string };
    expect(pkg.license).toBe("MIT");
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith(".d.ts"))).toEqual([]);
    expect(files.filter((f) => f.startsWith("dist/playground/"))).toEqual([]);
    // every file the package's entry points name is in it
    const pkgJson = JSON.parse(readFileSync("package.json", "utf8")) as {
      exports: Record<string, string | Record<string, string>>;
      bin: Record<string, string>;
    };
    const named = [
      ...Object.values(pkgJson.exports).flatMap((e) =>
        typeof e === "string" ? [e] : Object.values(e),
      ),
      ...Object.values(pkgJson.bin),
    ].map((p) => p.replace(/^\.\//, ""));
    for (const path of named) expect(files, path).toContain(path);
    for (const map of files.filter((f) => f.endsWith(".map"))) {
      const m = JSON.parse(readFileSync(map, "utf8")) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      expect(m.sourcesContent?.length, map).toBe(m.sources.length);
      expect(m.sourcesContent?.every((s) => typeof s === "string")).toBe(true);
    }
  });
});
