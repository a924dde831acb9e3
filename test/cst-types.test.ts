import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { cstTypesSource } from "../grammar/cst-types.js";

it("grammar/cst.d.ts matches the grammar (regenerate with `npm run gen:cst`)", () => {
  expect(readFileSync("grammar/cst.d.ts", "utf8")).toBe(cstTypesSource());
});
