// `cnnc tune` on llvmpipe spends most of its time compiling: LLVM compiles each candidate
// kernel on its first dispatch (0.3-2.4 s, on one core), which is then timed for a tenth of
// that, and the second core idles. So a helper process makes the tuner's plan from the same
// graph and dispatches candidates once, ahead of the tuner: Mesa keeps what it compiles in its
// disk cache, where the tuner's own first dispatch of that kernel finds it. The helper takes
// first the untuned network (the whole-network check at the end runs it: 8 of ResNet-18's 15
// kernels are no candidate's), then the candidates the tuner will surely measure (the first
// few of every layer), in the tuner's order, then the next candidate of the layer the tuner
// is at. The tuner says which candidate it loads
// next: the helper skips it, and when the helper is compiling it, the tuner compiles later
// ones meanwhile, so both cores compile. While the tuner times a kernel the helper is stopped
// (SIGSTOP): even at the lowest priority, a process busy on the other core slowed a kernel's
// timing by 30% in the median, 2x at worst. A helper that fails, or whose work the tuner does
// not find in the cache, is closed: every kernel is compiled where it is used, as without it.
import { fork, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, setPriority, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { fileURLToPath } from "node:url";
import type { Graph } from "../compiler/ir/index.js";
import type { Layout, Target } from "../compiler/codegen/index.js";
import {
  candidateBundle,
  dispatchOnce,
  surelyMeasured,
  tuningPlan,
  type Ahead,
  type PlanOptions,
} from "../compiler/tune.js";
import { Model } from "../runtime/index.js";
import { nodeDevice, type NodeDevice } from "../runtime/node-device.js";
import { familyFilter, median } from "./tune-command.js";

/** Set in the helper's environment: `cnnc`'s entry point then runs `aheadWorker`. */
export const aheadWorkerEnv = "CNNC_TUNE_AHEAD_WORKER";

/** What the helper needs to make the tuner's plan: the same graph and options. */
export interface Plan {
  readonly graph: Graph & { readonly constants: ReadonlyMap<string, Float32Array> };
  readonly batch: number;
  readonly target: Target;
  readonly layout?: Layout;
  readonly kernels?: string;
  /** Every candidate is measured (`--exhaustive`, `--record`). */
  readonly exhaustive: boolean;
  /** The untuned network's bundle: compiled first. */
  readonly untuned: Uint8Array;
}

type ToHelper =
  | { readonly kind: "next" | "taken"; readonly step: number; readonly index: number }
  | { readonly kind: "finished"; readonly step: number };

/** Candidate `index` of step `step` (step -1: the untuned network), and how long it took. */
type FromHelper =
  | { readonly kind: "start"; readonly step: number; readonly index: number }
  | { readonly kind: "done"; readonly step: number; readonly index: number; readonly ms: number };

const untunedKey = "-1/0";

/** The options that make the tuner's plan from `plan`'s graph, as `cnnc tune` passes them. */
function planOptions(plan: Plan): PlanOptions {
  const filter = familyFilter(plan.kernels);
  return {
    batch: plan.batch,
    target: plan.target,
    ...(plan.layout ? { layout: plan.layout } : {}),
    ...(filter ? { filter } : {}),
  };
}

/** Whether Mesa keeps compiled shaders on disk (its default; these variables turn it off). */
function mesaDiskCache(): boolean {
  const off = (v: string | undefined) => /^(1|true|yes)$/i.test(v ?? "");
  return !off(process.env.MESA_SHADER_CACHE_DISABLE) && !off(process.env.MESA_GLSL_CACHE_DISABLE);
}

/**
 * A helper compiling `plan`'s candidates ahead on another core, where it helps: llvmpipe with
 * Mesa's disk cache on, two cores or more, `cnnc` run from its built entry point (not from the
 * sources, as tests do), on a system with SIGSTOP (not Windows), and not turned off with
 * CNNC_TUNE_AHEAD=0. Otherwise undefined.
 */
export function compileAhead(
  device: Pick<NodeDevice, "kind">,
  plan: Plan,
  entry = fileURLToPath(new URL("./bin.js", import.meta.url)),
): AheadProcess | undefined {
  const wanted =
    device.kind === "llvmpipe" &&
    mesaDiskCache() &&
    availableParallelism() >= 2 &&
    process.platform !== "win32" &&
    process.env.CNNC_TUNE_AHEAD !== "0" &&
    existsSync(entry);
  if (!wanted) return undefined;
  // The plan through a file: Node's IPC reads a large message slowly (46 MB of ResNet-18's
  // weights had not arrived after 40 s), a file is read in a blink.
  const dir = mkdtempSync(join(tmpdir(), "cnnc-tune-"));
  const file = join(dir, "plan.bin");
  writeFileSync(file, serialize(plan));
  const child = fork(entry, [file], {
    env: { ...process.env, [aheadWorkerEnv]: "1" },
    // (its Dawn notices and any failure are its own: the tuner does not depend on it)
    stdio: ["ignore", "ignore", "ignore", "ipc"],
  });
  const { steps } = tuningPlan(plan.graph, planOptions(plan));
  return new AheadProcess(child, {
    lengths: steps.map((s) => s.list.length),
    exhaustive: plan.exhaustive,
    dir,
  });
}

/** What the tuner's side talks to: a child process, or a stand-in in tests. */
export type HelperProcess = Pick<ChildProcess, "send" | "kill" | "on" | "connected">;

/** The tuner's side of the helper. */
export class AheadProcess implements Ahead {
  private readonly started = new Set<string>();
  private readonly done = new Map<string, number>();
  /** Compiled here, while waiting for the helper. */
  private readonly here = new Set<string>();
  private readonly finishedSteps = new Set<number>();
  private readonly waiting = new Map<string, () => void>();
  private alive = true;
  /** The candidate loading now, when the helper compiled it: how long the helper took. */
  private loading: { readonly since: number; readonly helperMs: number } | undefined;
  /** Loading a candidate the helper compiled, as a share of the helper's compile. */
  private readonly shares: number[] = [];
  /** Of the candidates measured: those the helper compiled, those compiled here while waiting. */
  readonly counts = { asked: 0, helper: 0, whileWaiting: 0 };
  /** Why the helper was closed before the end, if it was. */
  stopped: string | undefined;

  constructor(
    readonly child: HelperProcess,
    /** Each step's number of candidates, whether all are measured, the plan's folder. */
    private readonly plan: {
      readonly lengths: readonly number[];
      readonly exhaustive: boolean;
      readonly dir?: string;
    },
  ) {
    child.on("message", (m: FromHelper) => {
      const key = `${m.step}/${m.index}`;
      if (m.kind === "start") this.started.add(key);
      else {
        this.done.set(key, m.ms);
        this.release(key);
      }
    });
    const gone = () => {
      this.alive = false;
      for (const key of [...this.waiting.keys()]) this.release(key);
    };
    child.on("exit", gone);
    child.on("error", gone);
  }

  private release(key: string): void {
    this.waiting.get(key)?.();
    this.waiting.delete(key);
  }

  /** Resolves when the helper has done with `key` (at once when it is not compiling it). */
  private async compiled(key: string): Promise<void> {
    if (this.alive && this.started.has(key) && !this.done.has(key))
      await new Promise<void>((resolve) => this.waiting.set(key, resolve));
  }

  async next(
    step: number,
    index: number,
    compileHere: (step: number, index: number) => Promise<void>,
  ): Promise<void> {
    const key = `${step}/${index}`;
    this.counts.asked++;
    // (told always: the helper then skips it, and knows where the tuner is)
    this.send({ kind: "next", step, index });
    if (this.here.has(key)) this.counts.whileWaiting++;
    // The helper is compiling it: compile here what the tuner measures later, meanwhile.
    while (this.alive && this.started.has(key) && !this.done.has(key)) {
      const later = this.laterFree(step, index);
      if (!later) break;
      this.here.add(`${later.step}/${later.index}`);
      this.send({ kind: "taken", ...later });
      await compileHere(later.step, later.index);
    }
    await this.compiled(key);
    const helperMs = this.done.get(key);
    if (helperMs !== undefined && this.started.has(key)) {
      this.counts.helper++;
      this.loading = { since: performance.now(), helperMs };
    }
  }

  /** The first candidate after this one that will surely be measured, and nobody compiled. */
  private laterFree(step: number, index: number): { step: number; index: number } | undefined {
    for (let s = step; s < this.plan.lengths.length; s++) {
      if (this.finishedSteps.has(s)) continue;
      for (let i = s === step ? index + 1 : 0; i < this.plan.lengths[s]!; i++) {
        if (!surelyMeasured(i, this.plan.exhaustive)) break;
        const key = `${s}/${i}`;
        if (!this.started.has(key) && !this.here.has(key)) return { step: s, index: i };
      }
    }
    return undefined;
  }

  finished(step: number): void {
    this.finishedSteps.add(step);
    this.send({ kind: "finished", step });
  }

  /** Stops the helper (SIGSTOP) while the tuner times a kernel; continues it after. */
  async alone<T>(timing: () => Promise<T>): Promise<T> {
    this.checkCache();
    const pause = this.alive;
    if (pause) this.child.kill("SIGSTOP");
    try {
      return await timing();
    } finally {
      if (pause && this.alive) this.child.kill("SIGCONT");
    }
  }

  /**
   * Loading what the helper compiled should take a fraction of its compile (a cache hit). When
   * the first three took half of it or more, either the tuner compiled them again (Mesa's cache
   * not written, or not found) or the helper did not compile either (a warm cache): the helper
   * only costs, and is closed.
   */
  private checkCache(): void {
    if (!this.loading) return;
    const share = (performance.now() - this.loading.since) / Math.max(this.loading.helperMs, 1);
    this.loading = undefined;
    if (this.shares.length >= 3) return;
    this.shares.push(share);
    if (this.shares.length === 3 && median(this.shares) >= 0.5) {
      this.stopped = `loading what it compiled took ${Math.round(100 * median(this.shares))}% of its compile time: nothing to gain (Mesa's cache already held them, or did not keep them)`;
      this.close();
    }
  }

  /** Closes the helper, after the untuned network's compile if it is at it. */
  async finish(): Promise<void> {
    await this.compiled(untunedKey);
    this.close();
  }

  close(): void {
    if (this.alive) {
      this.alive = false;
      this.child.kill("SIGCONT"); // (a stopped process would not hear the SIGTERM)
      this.child.kill();
    }
    if (this.plan.dir) rmSync(this.plan.dir, { recursive: true, force: true });
  }

  private send(m: ToHelper): void {
    if (this.alive && this.child.connected) this.child.send(m);
  }
}

/** The helper process: compiles the plan's candidates in order, skipping what the tuner took. */
export async function aheadWorker(): Promise<void> {
  setPriority(19); // (the lowest: it yields to the tuner's compiling)
  const messages: ToHelper[] = [];
  let wake = () => {};
  process.on("message", (m: ToHelper) => {
    messages.push(m);
    wake();
  });
  process.on("disconnect", () => process.exit(0));
  const plan = deserialize(readFileSync(process.argv[2]!)) as Plan;
  rmSync(dirname(process.argv[2]!), { recursive: true, force: true }); // (read: not left behind)
  const gpu = await nodeDevice("llvmpipe");
  const { steps } = tuningPlan(plan.graph, planOptions(plan));
  const load = (bundle: Uint8Array) =>
    Model.create(bundle, gpu.device, undefined, undefined, { quickStart: false });
  const taken = new Set<string>();
  const finished = new Set<number>();
  let current = 0; // (the step the tuner is measuring)
  /** Compiles (and reports) a candidate, or the untuned network for step -1. */
  const compile = async (step: number, index: number) => {
    process.send!({ kind: "start", step, index } satisfies FromHelper);
    const t0 = performance.now();
    const bundle =
      step < 0
        ? plan.untuned
        : candidateBundle(plan.graph, steps[step]!, steps[step]!.list[index]!);
    await dispatchOnce(load, bundle, plan.batch);
    const ms = performance.now() - t0;
    process.send!({ kind: "done", step, index, ms } satisfies FromHelper);
  };
  const free = (step: number, index: number) =>
    !finished.has(step) && !taken.has(`${step}/${index}`);
  /** The first candidate in the plan's order that is free and `fits`. */
  const first = (fits: (step: number, index: number) => boolean) => {
    for (const [step, s] of steps.entries()) {
      const index = s.list.findIndex((_, i) => free(step, i) && fits(step, i));
      if (index >= 0) return { step, index };
    }
    return undefined;
  };
  await compile(-1, 0); // (the untuned network first)
  for (;;) {
    // (what the tuner said meanwhile: its messages wait for a turn of the event loop)
    await new Promise((resolve) => setImmediate(resolve));
    for (const m of messages.splice(0)) {
      if (m.kind !== "finished") taken.add(`${m.step}/${m.index}`);
      if (m.kind === "next") current = m.step;
      if (m.kind === "finished") finished.add(m.step);
    }
    const pick =
      first((_, i) => surelyMeasured(i, plan.exhaustive)) ?? first((step) => step === current);
    if (pick) {
      taken.add(`${pick.step}/${pick.index}`);
      await compile(pick.step, pick.index);
    } else await new Promise<void>((resolve) => (wake = resolve));
  }
}
