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

/** A loop bound this small stays a constant in `everySize` texts (see shapeFamilies). */
const smallLoop = 16;

/** Sizes a dispatch's uniform slot holds besides the batch: 256 bytes, WebGPU's alignment. */
export const maxFamilyParams = 63;

const constLine = /^const (\w+): u32 = (\d+)u;$/;

interface Parsed {
  readonly lines: readonly string[];
  /** The line of the uniform's header (after any `enable` and `diagnostic` directives). */
  readonly header: number;
  /** The size constants, in order: name, value, line index. */
  readonly consts: readonly { name: string; value: number; line: number }[];
}

function parse(wgsl: string): Parsed | undefined {
  const lines = wgsl.split("\n");
  const header = lines.findIndex((l) => !/^(enable|diagnostic)\b/.test(l));
  if (lines[header] !== batchOnlyParams) return undefined;
  const consts: { name: string; value: number; line: number }[] = [];
  lines.forEach((l, line) => {
    const m = constLine.exec(l);
    if (m) consts.push({ name: m[1]!, value: Number(m[2]), line });
  });
  return consts.length ? { lines, header, consts } : undefined;
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

/** The text with every size that may vary blanked out: equal for the members of a family. */
function familyKey(p: Parsed, vary: (name: string) => boolean): string {
  const lines = [...p.lines];
  for (const c of p.consts) if (vary(c.name)) lines[c.line] = `const ${c.name}`;
  return lines.join("\n");
}

/** The family's shader: `varying` sizes read from the uniform, the others kept constant. */
function familyText(p: Parsed, varying: readonly string[]): string {
  const names = new Set(varying);
  return p.lines
    .map((l, i) =>
      i === p.header
        ? `struct Params { batch: u32, ${varying.map((n) => `${n}: u32`).join(", ")} }`
        : [...names].reduce((s, n) => s.replace(uses(n), `params.${n}`), l),
    )
    .filter((_, i) => !p.consts.some((c) => c.line === i && names.has(c.name)))
    .join("\n");
}

/**
 * Merges each family of kernels (texts equal but for their size constants) into one shader
 * and gives its dispatches their sizes as `params`. Kernels of one member, those `mayShare`
 * refuses (Kernel.shapeFamily), and those that do not declare sizes the way `buildShader`
 * does are kept as they are. A kernel's subgroup form (`subgroups`, by kernel index) goes
 * with it: members join a family only where their subgroup forms are one family too (or
 * none has one), and the family's shader gets the subgroup form made the same way.
 */
export function shapeFamilies(
  kernels: readonly string[],
  dispatches: readonly PlanDispatch[],
  mayShare: (kernel: number) => boolean = () => true,
  subgroups: Readonly<Record<string, string>> = {},
  /**
   * Read every size that may vary from the uniform, in a family of one too: the kernel's text
   * then depends on its layer's sizes no more (`cnnc tune`'s candidates, compiled once for all
   * layers of one kind that take them).
   */
  everySize = false,
): {
  kernels: string[];
  dispatches: PlanDispatch[];
  subgroupKernels: Record<string, string>;
} {
  const parsed = kernels.map((k, i) => (mayShare(i) ? parse(k) : undefined));
  const parsedSub = kernels.map((_, i) => {
    const s = subgroups[i];
    return s === undefined ? undefined : parse(s);
  });
  // The family key: the text with every size that may vary blanked out (in both forms).
  const varies = (k: number, name: string): boolean => {
    const [p, sub] = [parsed[k]!, parsedSub[k]];
    return (
      mayVary(p, name, p.consts.find((c) => c.name === name)!.line) &&
      (!sub || sub.consts.some((c) => c.name === name && mayVary(sub, name, c.line)))
    );
  };
  // (every size: but a loop of a few iterations keeps its constant bound, which a compiler
  // unrolls: a 7x7 window's rows read from the uniform ran as a loop)
  const unrolled = (k: number, name: string): boolean => {
    const c = parsed[k]!.consts.find((d) => d.name === name)!;
    const bound = new RegExp(`^\\s*for \\(.*(?<![.\\w])${name}\\b`);
    return c.value <= smallLoop && parsed[k]!.lines.some((l) => bound.test(l));
  };
  const keyOf = parsed.map((p, k) => {
    const sub = parsedSub[k];
    if (!p || (subgroups[k] !== undefined && !sub)) return `\u0000${k}`;
    // (in everySize texts a bound kept constant splits the family by its value)
    const vary = (name: string) => varies(k, name) && !(everySize && unrolled(k, name));
    return familyKey(p, vary) + (sub ? `\u0001${familyKey(sub, vary)}` : "");
  });
  const groups = new Map<string, number[]>();
  keyOf.forEach((key, k) => {
    const g = groups.get(key);
    if (g) g.push(k);
    else groups.set(key, [k]);
  });
  const out: string[] = [];
  const outSub: Record<string, string> = {};
  const place = new Map<number, { kernel: number; params?: readonly number[] }>();
  for (const members of groups.values()) {
    const first = parsed[members[0]!];
    const own = !keyOf[members[0]!]!.startsWith("\u0000");
    const varying =
      first && own
        ? first.consts.filter((c) =>
            everySize
              ? varies(members[0]!, c.name) && !unrolled(members[0]!, c.name)
              : members.some(
                  (k) => parsed[k]!.consts.find((d) => d.name === c.name)!.value !== c.value,
                ),
          )
        : [];
    const alone = members.length === 1 && !everySize;
    if (alone || varying.length === 0 || varying.length > maxFamilyParams) {
      for (const k of members) {
        place.set(k, { kernel: out.length });
        if (subgroups[k] !== undefined) outSub[out.length] = subgroups[k];
        out.push(kernels[k]!);
      }
      continue;
    }
    const names = varying.map((c) => c.name);
    const kernel = out.length;
    out.push(familyText(first!, names));
    const sub = parsedSub[members[0]!];
    if (sub) outSub[kernel] = familyText(sub, names);
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
    subgroupKernels: outSub,
  };
}
