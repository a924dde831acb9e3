// Running one adversarial case: the built CLI in a folder of its own, under a memory limit
// (RLIMIT_DATA and V8's heap) and a generous time limit that only a hang reaches, then the
// outcome judged by what a user may expect: exit 1 with a clean message, or success with the
// right answer; no stack, no file changed but the requested output, nothing read from
// outside the inputs.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** Every input kind cnnc reads, one row of the table each. */
export type Kind = ".cnn" | "use" | ".npy" | ".safetensors" | ".cnnb" | ".onnx" | "flags" | "api";

/** What became of a case: the first two are the only acceptable ones. */
export type Outcome =
  | "clean" // refused: exit 1, one clean message
  | "ok" // succeeded with the right answer
  | "crash" // exit 2, a stack, a signal, or output that is not a clean message
  | "hang" // still running at the time limit
  | "memory" // ran out of the memory limit
  | "wrong" // succeeded with a wrong answer, or succeeded where it must refuse
  | "damaged" // an input changed, a stray file left, an output left after a failure
  | "unsafe"; // something from outside its inputs showed up in what it printed or wrote

export const outcomes: readonly Outcome[] = [
  "clean",
  "ok",
  "crash",
  "hang",
  "memory",
  "wrong",
  "damaged",
  "unsafe",
];

/** Marks the content of files a case must not read: it must never show up in any output. */
export const secret = "SECRET-7f3a9c";

export interface Case {
  readonly kind: Kind;
  readonly name: string;
  /** The files of the case's folder (relative paths); a string is UTF-8 text. */
  readonly files: Readonly<Record<string, Uint8Array | string>>;
  /** Made after the files (links, FIFOs): each gets the case folder. */
  readonly setup?: (dir: string) => void;
  readonly args: readonly string[];
  /** "error": only a clean refusal is right. "either": a clean refusal or a success that
   * `verify` accepts (no verify: any success). */
  readonly expect: "error" | "either" | "success";
  /** Files a success may write (relative paths). */
  readonly outputs?: readonly string[];
  /** Checks a success's answer; returns what is wrong, or undefined. */
  readonly verify?: (
    dir: string,
    stdout: string,
  ) => string | undefined | Promise<string | undefined>;
}

export interface Result {
  readonly outcome: Outcome;
  readonly detail: string;
  readonly ms: number;
}

const cli = resolve("dist/cli/bin.js");
/** Data segment limit for the CLI: far above what any case needs (the largest legitimate one
 * builds a 20,000-layer network in about 300 MB), far below what a blow-up takes. */
const dataLimitKiB = 1536 * 1024;
/** A hang, not a slow machine: the slowest case takes a few seconds on a loaded 2-core box. */
const timeLimitMs = 180_000;

function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      const r = rel ? `${rel}/${e}` : e;
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p, r);
      else if (st.isFile()) out.set(r, createHash("sha256").update(readFileSync(p)).digest("hex"));
      else out.set(r, `special:${st.mode}`);
    }
  };
  walk(dir, "");
  return out;
}

/** A line cnnc may print on stderr when it refuses: its own message (and the indented items
 * of a list it gives, such as every tensor a weights file lacks), a located diagnostic and
 * its excerpt, the error count, a warning. */
const cleanLine =
  /^(cnnc: .+|\S.*:\d+:\d+: (error|warning|note): .+| *\d* \| .*|\d+ errors?(, \d+ warnings?)?|\.\.\.|  \S.*)$/;

export async function runCase(c: Case, dir: string): Promise<Result> {
  const before = snapshot(dir);
  const t0 = performance.now();
  const child = spawn(
    "sh",
    [
      "-c",
      `ulimit -d ${dataLimitKiB} && exec "$@"`,
      "sh",
      process.execPath,
      "--max-old-space-size=1024",
      cli,
      ...c.args,
    ],
    { cwd: dir, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    if (stdout.length < 1 << 20) stdout += d;
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    if (stderr.length < 1 << 20) stderr += d;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeLimitMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.on("close", (code, signal) => done([code, signal])),
  );
  clearTimeout(timer);
  const ms = performance.now() - t0;
  const result = (outcome: Outcome, detail: string): Result => ({ outcome, detail, ms });
  const head = (s: string): string => s.split("\n").slice(0, 4).join(" | ").slice(0, 300);

  if (timedOut) return result("hang", `still running after ${timeLimitMs} ms`);
  if (/allocation failed|heap out of memory|Cannot allocate memory|ENOMEM/i.test(stderr))
    return result("memory", head(stderr));
  const after = snapshot(dir);
  const printed = stdout + stderr;
  if (printed.includes(secret)) return result("unsafe", "printed a file it must not read");
  for (const o of c.outputs ?? []) {
    const p = join(dir, o);
    if (after.has(o) && readFileSync(p).includes(secret))
      return result("unsafe", `wrote what it must not read into ${o}`);
  }
  for (const [file, hash] of before)
    if (after.get(file) !== hash) return result("damaged", `changed or removed ${file}`);
  const written = [...after.keys()].filter((f) => !before.has(f));
  const allowed = new Set(code === 0 ? (c.outputs ?? []) : []);
  const stray = written.filter((f) => !allowed.has(f));
  if (stray.length) return result("damaged", `left ${stray.join(", ")} (exit ${code})`);

  if (signal !== null) return result("crash", `killed by ${signal}: ${head(stderr)}`);
  if (code !== 0 && code !== 1) return result("crash", `exit ${code}: ${head(stderr)}`);
  if (/internal error|^\s+at .+:\d+:\d+\)?$/m.test(stderr))
    return result("crash", `a stack: ${head(stderr)}`);
  if (code === 1) {
    const lines = stderr.split("\n").filter((l) => l !== "");
    const bad = lines.find((l) => !cleanLine.test(l));
    if (lines.length === 0) return result("crash", "exit 1 with nothing said");
    if (bad !== undefined) return result("crash", `not a clean message: ${bad.slice(0, 200)}`);
    if (c.expect === "success") return result("wrong", `refused: ${head(stderr)}`);
    return result("clean", lines[0]!.slice(0, 200));
  }
  if (c.expect === "error") return result("wrong", `exit 0: ${head(stdout)}`);
  const problem = c.verify ? await c.verify(dir, stdout) : undefined;
  return problem ? result("wrong", problem) : result("ok", head(stdout));
}

/** Runs cases `width` at a time, each in a fresh folder under `root`. */
export async function runAll(
  cases: readonly Case[],
  root: string,
  prepare: (c: Case, dir: string) => void,
  width = 2,
): Promise<Result[]> {
  const results: Result[] = new Array<Result>(cases.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      const dir = join(root, String(i));
      prepare(cases[i]!, dir);
      results[i] = await runCase(cases[i]!, dir);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

/** The table of the closing note: per kind, how many cases ended each way. */
export function table(cases: readonly Case[], results: readonly Result[]): string {
  const kinds = [...new Set(cases.map((c) => c.kind))];
  const rows = kinds.map((k) => {
    const mine = results.filter((_, i) => cases[i]!.kind === k);
    return [
      k,
      String(mine.length),
      ...outcomes.map((o) => String(mine.filter((r) => r.outcome === o).length)),
    ];
  });
  const header = ["kind", "cases", ...outcomes];
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]!.length)));
  const line = (r: readonly string[]): string =>
    r.map((v, j) => (j === 0 ? v.padEnd(widths[j]!) : v.padStart(widths[j]!))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}
