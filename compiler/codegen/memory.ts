// Memory planning: every activation lives at an offset in one arena buffer. Offsets and sizes
// are in f32 elements per batch item, so a run with batch N multiplies them all by N and the
// layout stays valid. Offsets are multiples of 64 elements: at any batch that is 256 bytes,
// WebGPU's strictest storage-binding offset alignment.
//
// A buffer is live from the first dispatch that touches it to the last (graph inputs from the
// start, outputs to the end). Planned: buffers are placed in order of first use, each in the
// smallest gap between buffers live at the same time that fits it (best fit), else at the
// end. Unplanned (-O0): one after another, nothing shared. Two values never share memory
// while both are live; checkMemoryPlan verifies exactly that.
import type { PlanDispatch, PlanValue } from "./plan-types.js";

export const offsetAlignment = 64;

const alignUp = (n: number): number => Math.ceil(n / offsetAlignment) * offsetAlignment;

interface Buffer {
  readonly name: string;
  readonly size: number;
  readonly start: number;
  readonly end: number;
}

/** The buffer each value lives in (flatten and dropout alias their input's). */
export function rootOf(values: readonly PlanValue[]): Map<string, string> {
  const root = new Map<string, string>();
  for (const v of values) root.set(v.name, v.alias === undefined ? v.name : root.get(v.alias)!);
  return root;
}

function lifetimes(
  values: readonly PlanValue[],
  dispatches: readonly PlanDispatch[],
  inputs: readonly string[],
  outputs: readonly string[],
): Buffer[] {
  const root = rootOf(values);
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const touch = (v: string, at: number): void => {
    const r = root.get(v)!;
    if (!first.has(r)) first.set(r, at);
    last.set(r, Math.max(last.get(r) ?? at, at));
  };
  inputs.forEach((v) => touch(v, -1));
  dispatches.forEach((d, i) => d.bindings.forEach((b) => "value" in b && touch(b.value, i)));
  outputs.forEach((v) => touch(v, dispatches.length));
  return values
    .filter((v) => v.alias === undefined)
    .map((v) => ({
      name: v.name,
      size: alignUp(v.perBatch),
      start: first.get(v.name) ?? -1,
      end: last.get(v.name) ?? -1,
    }));
}

export interface MemoryPlan {
  /** Offset of each value (aliases share their root's). */
  readonly offsets: Map<string, number>;
  /** Arena size, elements per batch item. */
  readonly arena: number;
}

export function planMemory(
  values: readonly PlanValue[],
  dispatches: readonly PlanDispatch[],
  inputs: readonly string[],
  outputs: readonly string[],
  reuse: boolean,
): MemoryPlan {
  const buffers = lifetimes(values, dispatches, inputs, outputs).sort((a, b) => a.start - b.start);
  const placed: (Buffer & { offset: number })[] = [];
  let arena = 0;
  for (const b of buffers) {
    let offset = arena;
    if (reuse) {
      const busy = placed
        .filter((p) => p.end >= b.start && p.start <= b.end)
        .sort((x, y) => x.offset - y.offset);
      let best: number | undefined;
      let bestGap = Infinity;
      let cursor = 0;
      for (const p of busy) {
        const gap = p.offset - cursor;
        if (gap >= b.size && gap < bestGap) {
          best = cursor;
          bestGap = gap;
        }
        cursor = Math.max(cursor, p.offset + p.size);
      }
      offset = best ?? cursor;
    }
    placed.push({ ...b, offset });
    arena = Math.max(arena, offset + b.size);
  }
  const root = rootOf(values);
  const at = new Map(placed.map((p) => [p.name, p.offset]));
  const offsets = new Map(values.map((v) => [v.name, at.get(root.get(v.name)!)!]));
  return { offsets, arena };
}

/** Every pair of buffers live at once must be disjoint in the arena; returns the violations. */
export function checkMemoryPlan(
  values: readonly (PlanValue & { readonly offset: number })[],
  dispatches: readonly PlanDispatch[],
  inputs: readonly string[],
  outputs: readonly string[],
  arena: number,
): string[] {
  const offset = new Map(values.map((v) => [v.name, v.offset]));
  const buffers = lifetimes(values, dispatches, inputs, outputs);
  const problems: string[] = [];
  for (const b of buffers) {
    const o = offset.get(b.name)!;
    if (o % offsetAlignment !== 0) problems.push(`${b.name} at ${o} is not aligned`);
    if (o + b.size > arena) problems.push(`${b.name} ends past the arena`);
  }
  for (let i = 0; i < buffers.length; i++) {
    for (let j = i + 1; j < buffers.length; j++) {
      const a = buffers[i]!;
      const b = buffers[j]!;
      const together = a.start <= b.end && b.start <= a.end;
      const oa = offset.get(a.name)!;
      const ob = offset.get(b.name)!;
      if (together && oa < ob + b.size && ob < oa + a.size)
        problems.push(`${a.name} and ${b.name} overlap while both live`);
    }
  }
  return problems;
}
