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

type Placed = Buffer & { readonly offset: number };

/** Sorted by first use; ties keep their order. */
const byStart = <B extends Buffer>(buffers: B[]): B[] => buffers.sort((a, b) => a.start - b.start);

/** Where a buffer at `offset` goes in a list sorted by offset (after equal offsets). */
function insertionPoint(sorted: readonly Placed[], offset: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.offset <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
  const buffers = byStart(lifetimes(values, dispatches, inputs, outputs));
  const placed: Placed[] = [];
  // The buffers placed so far that are still live, by offset. Buffers come in order of first
  // use, so one placed earlier is live with `b` exactly when it ends at or after b's start:
  // the cost per buffer is the number live at once, not the number placed.
  let live: Placed[] = [];
  let arena = 0;
  for (const b of buffers) {
    let offset = arena;
    if (reuse) {
      live = live.filter((p) => p.end >= b.start);
      let best: number | undefined;
      let bestGap = Infinity;
      let cursor = 0;
      for (const p of live) {
        const gap = p.offset - cursor;
        if (gap >= b.size && gap < bestGap) {
          best = cursor;
          bestGap = gap;
        }
        cursor = Math.max(cursor, p.offset + p.size);
      }
      offset = best ?? cursor;
    }
    const p = { ...b, offset };
    placed.push(p);
    if (reuse) live.splice(insertionPoint(live, offset), 0, p);
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
  // A sweep in order of first use: each buffer is compared with those still live when it
  // starts, which are exactly the ones whose lifetimes overlap its own.
  let live: Buffer[] = [];
  for (const b of byStart(buffers)) {
    live = live.filter((a) => a.end >= b.start);
    const ob = offset.get(b.name)!;
    for (const a of live) {
      const oa = offset.get(a.name)!;
      if (oa < ob + b.size && ob < oa + a.size)
        problems.push(`${a.name} and ${b.name} overlap while both live`);
    }
    live.push(b);
  }
  return problems;
}
