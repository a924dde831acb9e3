// Folding blocks in the graph picture (compiler/viz): a folded block is one box that counts its
// layers, edges into and out of it keep their shapes, edges inside it go; a picked layer inside
// a folded block marks the block.
import { describe, expect, it } from "vitest";
import { blockPrefixes, graphSvg } from "../compiler/viz/index.js";
import { lowerFile } from "./support/compile.js";

const tiny = lowerFile("examples/tiny.cnn");
const boxes = (svg: string): string[] =>
  [...svg.matchAll(/data-name="([^"]+)"/g)].map((m) => m[1]!);

describe("graphSvg collapsed blocks", () => {
  it("lists the blocks layer names nest in", () => {
    const blocks = blockPrefixes(tiny);
    expect(blocks).toContain("inception_1");
    expect(blocks).toContain("inception_1.branch_3");
    expect(blocks).toContain("basic_1");
  });

  it("draws a folded block as one box with its layer count, and its edges", () => {
    const open = graphSvg(tiny);
    const inside = tiny.nodes.filter((n) => n.name.startsWith("inception_1.")).length;
    const folded = graphSvg(tiny, { collapsed: new Set(["inception_1"]) });
    expect(boxes(folded).filter((b) => b.startsWith("inception_1"))).toEqual(["inception_1"]);
    expect(boxes(open).length - boxes(folded).length).toBe(inside - 1);
    expect(folded).toContain(`block: ${inside} layers`);
    expect(folded).toContain('data-block="inception_1"');
    // the edges into the block (from basic_2) and out of it (to the pooling) stay
    const edges = (svg: string) => (svg.match(/<path d=/g) ?? []).length;
    expect(edges(folded)).toBeLessThan(edges(open));
    expect(edges(folded)).toBeGreaterThanOrEqual(
      tiny.nodes.filter((n) => !n.name.startsWith("inception_1.")).length,
    );
  });

  it("marks a folded block that holds the picked layer; an outer fold wins", () => {
    const svg = graphSvg(tiny, {
      collapsed: new Set(["inception_1", "inception_1.branch_3"]),
      highlight: new Set(["inception_1.branch_3.conv_2"]),
    });
    expect(svg).toMatch(/data-block="inception_1"><rect[^>]*stroke="#dc2626"/);
    expect(boxes(svg)).not.toContain("inception_1.branch_3");
  });
});
