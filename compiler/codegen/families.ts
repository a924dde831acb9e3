// Shape families: kernels that differ only in the sizes they bake in become one shader.
//
// A kernel declares its sizes as `const NAME: u32 = value;` lines (wgsl.ts `buildShader`), so
// two layers of one kind and different shapes (MobileNet's pointwise convs at 112, 56, 28 and
// 14 pixels) get texts that differ only there. Every distinct text costs the adapter a shader
// module and a pipeline at load, and on a CPU emulation a JIT compile at the first dispatch:
// most of the time from bundle bytes to a first result. Here each group of such kernels
// becomes one, its differing sizes read from the dispatch's uniform (`params.NAME` beside
// `params.batch`), each dispatch carrying its values. Sizes every member shares stay constants.
//
// A size stays a constant, and splits the family by its value, where WGSL needs a constant
// expression: a workgroup array's length, another `const`, `@workgroup_size`, a `case`, an
// `override`; or where a name of the same spelling is declared again (a local, a parameter).
import type { PlanDispatch } from "./plan-types.js";

/** The uniform's header of a kernel that reads only the batch size (wgsl.ts). */
export const batchOnlyParams = "struct Params { batch: u32 }";

/** Sizes a dispatch's uniform slot holds besides the batch: 256 bytes, WebGPU's alignment. */
export const maxFamilyParams = 63;

const constLine = /^const (\w+): u32 = (\d+)u;$/;

interface Parsed {
  readonly lines: readonly string[];
  /** The size constants, in order: name, value, line index. */
  readonly consts: readonly { name: string; value: number; line: number }[];
}

function parse(wgsl: string): Parsed | undefined {
  const lines = wgsl.split("\n");
  if (lines[0] !== batchOnlyParams) return undefined;
  const consts: { name: string; value: number; line: number }[] = [];
  lines.forEach((l, line) => {
    const m = constLine.exec(l);
    if (m) consts.push({ name: m[1]!, value: Number(m[2]), line });
  });
  return consts.length ? { lines, consts } : undefined;
}

const uses = (name: string): RegExp => new RegExp(`(?<![.\\w])${name}\\b`, "g");

/** Whether `name` may become a run-time value in this template (see the file's comment). */
function mayVary(p: Parsed, name: string, own: number): boolean {
  const use = uses(name);
  const redeclared = new RegExp(
    `\\b(?:let|var|fn|const|override)\\s+${name}\\b|(?<![.\\w])${name}\\s*:`,
  );
  return p.lines.every((l, i) => {
    if (i === own) return true;
    use.lastIndex = 0;
    if (!use.test(l)) return true;
    return (
      !/\bconst\b|\boverride\b|array<|var<workgroup>|@workgroup_size|\bcase\b/.test(l) &&
      !redeclared.test(l)
    );
  });
}

/**
 * Merges each family of kernels (texts equal but for their size constants) into one shader
 * and gives its dispatches their sizes as `params`. Kernels of one member, those `mayShare`
 * refuses (Kernel.shapeFamily), and those that do not declare sizes the way `buildShader`
 * does are kept as they are.
 */
export function shapeFamilies(
  kernels: readonly string[],
  dispatches: readonly PlanDispatch[],
  mayShare: (kernel: number) => boolean = () => true,
): { kernels: string[]; dispatches: PlanDispatch[] } {
  const parsed = kernels.map((k, i) => (mayShare(i) ? parse(k) : undefined));
  // The family key: the text with every size that may vary blanked out.
  const keyOf = parsed.map((p, k) => {
    if (!p) return `\u0000${k}`;
    const lines = [...p.lines];
    for (const c of p.consts) if (mayVary(p, c.name, c.line)) lines[c.line] = `const ${c.name}`;
    return lines.join("\n");
  });
  const groups = new Map<string, number[]>();
  keyOf.forEach((key, k) => {
    const g = groups.get(key);
    if (g) g.push(k);
    else groups.set(key, [k]);
  });
  const out: string[] = [];
  const place = new Map<number, { kernel: number; params?: readonly number[] }>();
  for (const members of groups.values()) {
    const first = parsed[members[0]!];
    const varying = first
      ? first.consts.filter((c) =>
          members.some((k) => parsed[k]!.consts.find((d) => d.name === c.name)!.value !== c.value),
        )
      : [];
    if (members.length === 1 || varying.length === 0 || varying.length > maxFamilyParams) {
      for (const k of members) {
        place.set(k, { kernel: out.length });
        out.push(kernels[k]!);
      }
      continue;
    }
    const names = new Set(varying.map((c) => c.name));
    const lines = first!.lines
      .filter((_, i) => !varying.some((c) => c.line === i))
      .map((l, i) =>
        i === 0
          ? `struct Params { batch: u32, ${varying.map((c) => `${c.name}: u32`).join(", ")} }`
          : [...names].reduce((s, n) => s.replace(uses(n), `params.${n}`), l),
      );
    const kernel = out.length;
    out.push(lines.join("\n"));
    for (const k of members) {
      const consts = parsed[k]!.consts;
      place.set(k, {
        kernel,
        params: varying.map((c) => consts.find((d) => d.name === c.name)!.value),
      });
    }
  }
  return {
    kernels: out,
    dispatches: dispatches.map((d) => {
      const p = place.get(d.kernel)!;
      return { ...d, kernel: p.kernel, ...(p.params ? { params: p.params } : {}) };
    }),
  };
}
