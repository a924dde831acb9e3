// The pass tests are only as good as their checker: it must fail when it should.
import { expect, it } from "vitest";
import { fileCheck } from "./support/filecheck.js";

const out = "graph G {\n  %a = conv2d(%x) {act=relu}\n  %b = relu(%a)\n  output y = %b\n}";

it("passes matching directives in order", () => {
  expect(
    fileCheck(
      out,
      "// CHECK: %a = conv2d\n// CHECK-SAME: act=relu\n// CHECK-NEXT: %b = relu\n// CHECK-NOT: add(\n// CHECK: output y",
    ),
  ).toEqual([]);
});

it("fails on a missing line, a wrong order, a forbidden line, a misspelt directive", () => {
  expect(fileCheck(out, "// CHECK: %c =")).toHaveLength(1);
  expect(fileCheck(out, "// CHECK: %b =\n// CHECK: %a =")).toHaveLength(1);
  expect(fileCheck(out, "// CHECK: graph\n// CHECK-NOT: relu(\n// CHECK: output")).toHaveLength(1);
  expect(fileCheck(out, "// CHECK: %a\n// CHECK-NEXT: output")).toHaveLength(1);
  expect(fileCheck(out, "// CHECK: %a\n// CHECK-SAME: act=gelu")).toHaveLength(1);
  expect(fileCheck(out, "// CHEKC-NOT: x\n// CHECK-NOTT: x")).toEqual([
    "unknown directive CHECK-NOTT",
  ]);
});
