// f16 weights (`cnnc build --f16`): every kernel of a GPU's plan rewritten to read its weights
// as halves packed two to a u32, computing in f32 as before. The weights take half the bytes
// in GPU memory and in the memory traffic of the layers that stream them (a dense layer's GEMV
// reads each weight once), as they do in the bundle. WGSL's unpack2x16float is core WebGPU, so
// this needs no `shader-f16` feature; arithmetic stays f32, so only the weights' rounding (11
// significant bits) costs accuracy (scripts/f16-accuracy.mjs measures it). CPU emulations'
// plans keep reading f32 (the runtime widens the halves at load): there the unpacking cost
// more than the memory it saved, ResNet-18 2.1x slower on llvmpipe and 2.0x on SwiftShader.
//
// One rewrite serves every kernel, whichever op wrote it: a weight binding is one a kernel
// declares read-only (wgsl.ts readAccess: activations are read_write), `w: array<f32>` becomes
// `w_f16: array<u32>` (a `vec4<f32>` one `array<vec2<u32>>`) and each `w[i]` a call of
// `w_at(u32(i))`, a helper declared beside it. Any other use of the name is refused.
import type { Plan } from "./plan-types.js";

const weightLine =
  /^@group\(0\) @binding\((\d+)\) var<storage, read> (\w+): array<(f32|vec4<f32>)>;$/;

/** `name`'s accesses `name[i]` rewritten as `fn(u32(i))`, innermost first. */
function rewriteAccesses(code: string, name: string, fn: string): string {
  const access = new RegExp(`(?<![.\\w])${name}\\[`, "g");
  for (;;) {
    const starts = [...code.matchAll(access)].map((m) => m.index);
    const start = starts.at(-1);
    if (start === undefined) return code;
    let depth = 0;
    let end = start + name.length;
    for (; end < code.length; end++) {
      if (code[end] === "[") depth++;
      else if (code[end] === "]" && --depth === 0) break;
    }
    if (end >= code.length) throw new Error(`internal: unbalanced '${name}[' in a kernel`);
    const index = code.slice(start + name.length + 1, end);
    code = `${code.slice(0, start)}${fn}(u32(${index}))${code.slice(end + 1)}`;
  }
}

/** One kernel's text reading its weight bindings as packed halves; the binding numbers. */
export function halfWeightKernel(wgsl: string): { wgsl: string; weights: number[] } {
  const lines = wgsl.split("\n");
  const weights: number[] = [];
  const helpers: string[] = [];
  let last = -1;
  const names: string[] = [];
  lines.forEach((line, i) => {
    const m = weightLine.exec(line);
    if (!m) return;
    const [, binding, name, element] = m as unknown as [string, string, string, string];
    for (const made of [`${name}_f16`, `${name}_at`])
      if (new RegExp(`\\b${made}\\b`).test(wgsl))
        throw new Error(`internal: a kernel already declares '${made}'`);
    weights.push(Number(binding));
    names.push(name);
    last = i;
    if (element === "f32") {
      lines[i] = `@group(0) @binding(${binding}) var<storage, read> ${name}_f16: array<u32>;`;
      helpers.push(
        `fn ${name}_at(i: u32) -> f32 { return unpack2x16float(${name}_f16[i >> 1u])[i & 1u]; }`,
      );
    } else {
      lines[i] = `@group(0) @binding(${binding}) var<storage, read> ${name}_f16: array<vec2<u32>>;`;
      helpers.push(
        `fn ${name}_at(i: u32) -> vec4<f32> { let h = ${name}_f16[i]; return vec4<f32>(unpack2x16float(h.x), unpack2x16float(h.y)); }`,
      );
    }
  });
  if (!weights.length) return { wgsl, weights };
  const head = lines.slice(0, last + 1).join("\n");
  let rest = lines.slice(last + 1).join("\n");
  for (const name of names) {
    rest = rewriteAccesses(rest, name, `${name}_at`);
    if (new RegExp(`(?<![.\\w])${name}\\b`).test(rest))
      throw new Error(`internal: a kernel uses weight '${name}' other than by index`);
  }
  return { wgsl: [head, ...helpers, rest].join("\n"), weights };
}

/**
 * The plan with every kernel (and subgroup form) reading its weights as f16. Each dispatch's
 * weight bindings must be exactly its kernel's read-only ones: a weight read through a
 * read_write binding would be read as f32 from a buffer of halves.
 */
export function halfWeights(plan: Plan): Plan {
  const rewritten = plan.kernels.map(halfWeightKernel);
  for (const d of plan.dispatches) {
    const weights = new Set(rewritten[d.kernel]!.weights);
    d.bindings.forEach((b, j) => {
      if ("weight" in b !== weights.has(j + 1))
        throw new Error(
          `internal: '${d.label}' binds ${"weight" in b ? `weight '${b.weight}'` : "a value"} at binding ${j + 1}, which its kernel declares ${weights.has(j + 1) ? "read-only" : "read_write"}`,
        );
    });
  }
  const forms = plan.subgroupKernels;
  return {
    ...plan,
    halfWeights: true,
    kernels: rewritten.map((k) => k.wgsl),
    ...(forms
      ? {
          subgroupKernels: Object.fromEntries(
            Object.entries(forms).map(([k, form]) => [k, halfWeightKernel(form).wgsl]),
          ),
        }
      : {}),
  };
}
