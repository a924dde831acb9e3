// Regenerates grammar/cst.d.ts, the CST node types of the parser, from the grammar itself
// (chevrotain's generateCstDts). Run after changing grammar/parser.ts: `npm run gen:cst`.
// A test checks that the committed file is current.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { cstTypesSource } from "../dist/grammar/cst-types.js";

const target = fileURLToPath(new URL("../grammar/cst.d.ts", import.meta.url));
writeFileSync(target, cstTypesSource());
console.log(`wrote ${target}`);
