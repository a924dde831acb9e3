// Progress on stderr for the long steps (a build's weights and bundle, shader compilation at
// load, tuning's candidates, benchmark runs): one line redrawn in place, with "i of N", the
// step's name and the time left, only when stderr is a terminal and not --quiet. The compiler
// works synchronously, so a line is drawn from the update itself (at most every 100 ms), not
// from a timer that would not fire until the work is done: the reason this is not cli-progress,
// whose bars redraw on a timer.
import { terminalSafe } from "./common.js";

export interface Progress {
  /** Reports `done` of `total` in the step `label` (a new label starts a new count). */
  update(label: string, done: number, total: number, detail?: string): void;
  /** Clears the line; what is printed next starts on a clean line. */
  done(): void;
}

const silent: Progress = { update() {}, done() {} };

/** Where a bar is drawn: process.stderr, or what the CLI's parent said it is (see bin.ts). */
export interface ProgressTarget {
  readonly isTTY: boolean;
  readonly columns: number;
  write(text: string): void;
}

/** stderr as a progress target. The CLI's device commands run as a child of bin.ts whose
 * stderr is a pipe (to filter Dawn's noise); the parent says whether its own is a terminal. */
export function stderrTarget(): ProgressTarget {
  const inherited = process.env.CNNC_STDERR_TTY_COLUMNS;
  return {
    isTTY: process.stderr.isTTY === true || inherited !== undefined,
    columns: process.stderr.columns || Number(inherited) || 80,
    write: (text) => void process.stderr.write(text),
  };
}

function seconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function progress(
  options: { readonly quiet?: boolean; readonly target?: ProgressTarget } = {},
): Progress {
  const target = options.target ?? stderrTarget();
  if (options.quiet || !target.isTTY) return silent;
  let label = "";
  let started = 0;
  let drawn = 0;
  let shown = false;
  return {
    update(step, done, total, detail) {
      const now = Date.now();
      if (step !== label) {
        label = step;
        started = now;
      }
      if (now - drawn < 100 && done < total) return;
      drawn = now;
      const width = 20;
      const filled = total > 0 ? Math.round((width * Math.min(done, total)) / total) : 0;
      const elapsed = (now - started) / 1000;
      const left =
        done > 0 && done < total && elapsed > 1
          ? `, ${seconds((elapsed / done) * (total - done))} left`
          : "";
      const line = `${step} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done} of ${total}${left}${detail ? `: ${terminalSafe(detail)}` : ""}`;
      target.write(`\r\x1b[2K${line.slice(0, Math.max(target.columns - 1, 20))}`);
      shown = true;
    },
    done() {
      if (shown) target.write("\r\x1b[2K");
      shown = false;
      label = "";
    },
  };
}
