#!/usr/bin/env node
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { main } from "./main.js";
import { aheadWorker, aheadWorkerEnv } from "./tune-ahead.js";

// `cnnc ... | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

/**
 * Dawn's OpenGL ES backend (llvmpipe) prints these from native code, straight to file
 * descriptor 2, whenever an adapter is requested: noise that says nothing about the user's
 * network, and that no JavaScript hook can intercept in-process.
 */
const dawnNoise =
  /Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n/g;

/**
 * The commands that open a WebGPU device run as a child whose stderr passes through here with
 * Dawn's noise removed; everything else (and the child itself) runs in this process.
 */
function opensDevice(args: readonly string[]): boolean {
  const command = args.find((a) => !a.startsWith("-")); // (after -q, --quiet)
  const device = ["run", "train", "eval"].includes(command ?? "") && !args.includes("--cpu");
  return device || command === "tune";
}

function filtered(args: readonly string[]): Promise<number> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...args],
    {
      stdio: ["inherit", "inherit", "pipe"],
      env: {
        ...process.env,
        CNNC_STDERR_FILTERED: "1",
        // (its stderr is this pipe: progress bars need to know that this one is a terminal)
        ...(process.stderr.isTTY
          ? { CNNC_STDERR_TTY_COLUMNS: String(process.stderr.columns || 80) }
          : {}),
      },
    },
  );
  // A signal to this process goes to the child (Ctrl-C reaches both: one process group), which
  // decides; this one then ends as the child did.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(sig, () => void child.kill(sig));
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    const kept = chunk.replace(dawnNoise, "");
    if (kept) process.stderr.write(kept);
  });
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      // killed by a signal: end the same way (the shell then shows it as it would have)
      if (signal) {
        process.removeAllListeners(signal);
        process.kill(process.pid, signal);
      }
      resolve(code ?? 1);
    });
  });
}

const args = process.argv.slice(2);
if (process.env[aheadWorkerEnv] === "1")
  await aheadWorker(); // (cnnc tune's helper)
else
  process.exitCode =
    process.env.CNNC_STDERR_FILTERED !== "1" && opensDevice(args)
      ? await filtered(args)
      : await main(args);
