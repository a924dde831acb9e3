// What the commands share: output streams, the user-error convention, and the front end.
import { compileFrontend, type FrontendResult } from "../compiler/lower/index.js";
import { parseIr, verify, type Graph } from "../compiler/ir/index.js";
import { BundleError, parseBundle } from "../runtime/index.js";
import type { Progress } from "./progress.js";
import { formatDiagnostic } from "../grammar/diagnostics.js";
import { nodeHost } from "./host.js";
import { closeSync, openSync, readFileSync, readSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve, sep } from "node:path";
import { importOnnx, ImportError, onnxDataInputs } from "../compiler/onnx/index.js";
import type { OnnxConstant } from "../compiler/ops/index.js";
import { NpyError, readNpy } from "./npy.js";

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** --quiet: results only (no notes, no progress). */
  quiet?: boolean;
  /** Progress of the long steps (cli/progress.ts); absent: none shown. */
  progress?: Progress;
}

/** `cnnc: note: ...` on stderr, unless --quiet. */
export function note(io: Io, text: string): void {
  if (!io.quiet) io.err(`cnnc: note: ${text}\n`);
}

/**
 * Text for a terminal: control characters other than newline and tab (escape sequences that
 * could recolour, move the cursor or retitle the window, from a name in a bundle or a model)
 * are shown as `\x1b`-style escapes instead of acting.
 */
export function terminalSafe(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** A user error: its message is printed as `cnnc: message`, exit code 1, no stack trace. */
export class UserError extends Error {}

/** At most this many diagnostics are printed; the count says how many there were. */
export const maxPrinted = 100;

/** Prints the diagnostics (the first 100); a user error (exit 1) if any is an error. */
export function report(io: Io, result: Pick<FrontendResult, "diagnostics" | "sources">): void {
  const shown = result.diagnostics.slice(0, maxPrinted);
  for (const d of shown) io.err(formatDiagnostic(d, result.sources) + "\n");
  const more = result.diagnostics.length - shown.length;
  if (more > 0)
    io.err(`cnnc: ${more.toLocaleString("en-US")} more not shown (the first ${maxPrinted} are)\n`);
  const errors = result.diagnostics.filter((d) => d.severity === "error").length;
  if (errors) {
    io.err(`${errors} error${errors === 1 ? "" : "s"}\n`);
    throw new UserError(""); // already reported
  }
}

/** The flags that shape an ONNX import: shapes for dynamic inputs, inputs made constants. */
export interface ModelFlags {
  /** `name=1,3,320,320`, or the dims alone for a model of one input. */
  readonly inputShape?: readonly string[];
  /** `name=file.npy`: a graph input the model uses as a weight, given its value. */
  readonly freeze?: readonly string[];
  /** `run`'s inputs: the shapes of their .npy files fix an .onnx's dynamic dimensions. */
  readonly shapeHints?: ReadonlyMap<string, readonly number[]>;
}

/** `name=value` (or the value alone, for `fallback`'s one input). */
function named(spec: string, flag: string): { name: string | undefined; value: string } {
  const eq = spec.indexOf("=");
  if (eq === 0) throw new UserError(`${flag} '${spec}': the input name is missing before '='`);
  return eq > 0
    ? { name: spec.slice(0, eq), value: spec.slice(eq + 1) }
    : { name: undefined, value: spec };
}

function importOptions(flags: ModelFlags): {
  inputShapes: Map<string, readonly number[]>;
  freeze: Map<string, OnnxConstant>;
  unnamedShape: readonly number[] | undefined;
} {
  const inputShapes = new Map<string, readonly number[]>();
  let unnamedShape: readonly number[] | undefined;
  for (const spec of flags.inputShape ?? []) {
    const { name, value } = named(spec, "--input-shape");
    const dims = value.split(",").map((d) => (/^\d+$/.test(d.trim()) ? Number(d) : NaN));
    if (!dims.length || dims.some((d) => !(d >= 1 && d <= 2 ** 31)))
      throw new UserError(`--input-shape '${spec}': give positive integers, e.g. x=1,3,320,320`);
    if (name === undefined) unnamedShape = dims;
    else if (inputShapes.has(name)) throw new UserError(`--input-shape gives '${name}' twice`);
    else inputShapes.set(name, dims);
  }
  const freeze = new Map<string, OnnxConstant>();
  for (const spec of flags.freeze ?? []) {
    const { name, value } = named(spec, "--freeze");
    if (name === undefined) throw new UserError(`--freeze '${spec}': give it as name=file.npy`);
    if (freeze.has(name)) throw new UserError(`--freeze gives '${name}' twice`);
    let array;
    try {
      array = readNpy(readFileSync(value), value);
    } catch (e) {
      if (e instanceof NpyError) throw new UserError(e.message);
      throw new UserError(`cannot read '${value}'`);
    }
    freeze.set(name, { dims: array.shape, data: array.data });
  }
  return { inputShapes, freeze, unnamedShape };
}

/** An ONNX model read as IR, its weights attached (constants); `report` gets the import's
 * lines (what was folded, removed, rewritten). */
export function importModel(
  file: string,
  flags: ModelFlags = {},
  report?: (line: string) => void,
): Graph {
  const { inputShapes, freeze, unnamedShape } = importOptions(flags);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new UserError(`cannot read '${file}'`);
  }
  if (unnamedShape) {
    // The dims alone name the model's one data input.
    const inputs = onnxDataInputs(bytes).filter((i) => !freeze.has(i));
    if (inputs.length !== 1)
      throw new UserError(
        `${file} has ${inputs.length} inputs; name the one --input-shape is for (${inputs.map((i) => `${i}=...`).join(", ")})`,
      );
    inputShapes.set(inputs[0]!, unnamedShape);
  }
  try {
    return importOnnx(bytes, {
      inputShapes,
      freeze,
      ...(flags.shapeHints ? { shapeHints: flags.shapeHints } : {}),
      ...(report ? { onReport: report } : {}),
      // External tensor data: a regular file below the model's folder, nothing else.
      readExternal: (location) => {
        const folder = resolve(dirname(file));
        const path = resolve(folder, location);
        if (isAbsolute(location) || !path.startsWith(folder + sep)) return undefined;
        try {
          // Where it really is, links followed: a link may not lead out of the folder either.
          if (!realpathSync(path).startsWith(realpathSync(folder) + sep)) return undefined;
          if (!statSync(path).isFile()) return undefined;
          return readFileSync(path);
        } catch {
          return undefined;
        }
      },
    });
  } catch (e) {
    if (e instanceof ImportError) throw new UserError(`${file}: ${e.message}`);
    throw e;
  }
}

/** The flags that say which network to read and where its `use` lines may read. */
export interface SourceFlags extends ModelFlags {
  readonly network?: string | undefined;
  /** The folder `use` may read below (--use-root); the file's own folder by default. */
  readonly useRoot?: string | undefined;
}

/** The network of a .cnn file (front end) or of an .onnx model (import, weights included). */
export function sourceGraph(io: Io, file: string, flags: SourceFlags): Graph {
  return file.endsWith(".onnx") ? importModel(file, flags) : frontend(io, file, flags);
}

/** The network a .cnnb bundle was built from (its IR, as built: weights not attached). */
export function bundleGraph(file: string): Graph {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new UserError(`cannot read '${file}'`);
  }
  try {
    const { manifest } = parseBundle(bytes);
    if (manifest.ir === undefined)
      throw new UserError(`${file}: the bundle carries no IR to describe`);
    return verify(parseIr(manifest.ir));
  } catch (e) {
    if (e instanceof BundleError) throw new UserError(`${file}: ${e.message}`);
    if (e instanceof UserError) throw e;
    throw new UserError(`${file}: its IR does not parse (${(e as Error).message})`);
  }
}

/** The first bytes of a file, if it can be read (the front end reports a file it cannot). */
function head(file: string, n = 4096): Uint8Array | undefined {
  try {
    const fd = openSync(file, "r");
    try {
      const buf = new Uint8Array(n);
      return buf.subarray(0, readSync(fd, buf, 0, n, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** A binary file given where .cnn source goes: what it is, and which command takes it. */
function binaryHint(file: string): string | undefined {
  const bytes = head(file);
  if (!bytes) return undefined;
  const text = new TextDecoder().decode(bytes.subarray(0, 4));
  if (text === "CNNB")
    return `'${file}' is a cnnc bundle, not .cnn source: cnnc run runs it, cnnc summary describes it`;
  if (file.endsWith(".onnx") || (bytes.includes(0) && bytes[0] === 0x08))
    return `'${file}' is an ONNX model, not .cnn source: cnnc import turns it into .cnn; build, run and summary take it as it is`;
  if (bytes.includes(0)) return `'${file}' is a binary file, not .cnn source`;
  return undefined;
}

/** A .cnn command given a binary file: refused with what it is, before the parser sees it. */
export function refuseBinary(file: string): void {
  const binary = binaryHint(file);
  if (binary) throw new UserError(binary);
}

export function frontend(io: Io, file: string, flags: SourceFlags): Graph {
  refuseBinary(file);
  const result = compileFrontend(file, nodeHost, {
    ...(flags.network ? { network: flags.network } : {}),
    ...(flags.useRoot !== undefined ? { root: flags.useRoot } : {}),
  });
  report(io, result);
  if (!result.graph) throw new Error("internal: no graph and no error");
  return result.graph;
}

/** --seed: an integer (0 when not given); anything else is an error, never a silent 0. */
export function seed(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number(text);
  // The generator takes 32 bits: a larger or negative seed would silently mean another one.
  if (!/^\d+$/.test(text) || n > 0xffffffff)
    throw new UserError(`--seed must be an integer from 0 to 4294967295, got '${text}'`);
  return n;
}

export function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
    throw new UserError(`${what} must be a positive integer, got '${text}'`);
  return n;
}
