// Writing what a command makes without losing anything: a file is written beside its target
// under a temporary name and renamed over it only when complete (a full disk or a killed
// process leaves the old file, never a truncated one), an input of the command is never an
// output, and a write that fails is one line naming the file and why.
import { mkdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "./common.js";

/** The same file, whatever path names it (links resolved where the file exists). */
function samePath(a: string, b: string): boolean {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOENT: "its folder does not exist",
    EISDIR: "it is a folder",
    ENOTDIR: "a part of its path is not a folder",
    EACCES: "permission denied",
    EPERM: "permission denied",
    ENOSPC: "the disk is full",
    EROFS: "the file system is read-only",
  };
  return (code && words[code]) ?? (e as Error).message;
}

/**
 * Writes `data` to `path` atomically. `inputs`: the files the command read, which it must not
 * overwrite.
 */
export function writeOutput(
  path: string,
  data: string | Uint8Array,
  inputs: readonly string[] = [],
): void {
  const clash = inputs.find((i) => samePath(i, path));
  if (clash !== undefined)
    throw new UserError(`will not write '${path}': it is an input ('${clash}')`);
  let kind: "absent" | "file" | "folder" | "special" = "absent";
  try {
    const stat = statSync(path);
    kind = stat.isFile() ? "file" : stat.isDirectory() ? "folder" : "special";
  } catch {
    // absent: written below
  }
  if (kind === "folder") throw new UserError(`cannot write '${path}': it is a folder`);
  // Renaming over a device, FIFO or socket would replace it with a file.
  if (kind === "special")
    throw new UserError(`cannot write '${path}': it is not a regular file (a device or a pipe)`);
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temp, data);
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw new UserError(`cannot write '${path}': ${why(e)}`);
  }
}

/** Makes a folder for outputs (and its parents), or says why it cannot. */
export function outputFolder(path: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (e) {
    throw new UserError(`cannot make the folder '${path}': ${why(e)}`);
  }
}
