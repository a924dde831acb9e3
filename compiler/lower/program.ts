// A program: the entry file plus every file it imports with `use`, transitively. Blocks come
// from all of them; the network from the entry file. File access goes through a host, so the
// front end runs the same in Node (cli/), in tests (in memory) and in a browser.
import type { BlockDecl, FileAst, NetworkDecl, Statement } from "../../grammar/ast.js";
import { parseSource } from "../../grammar/index.js";
import {
  compareDiagnostics,
  fileStart,
  hasErrors,
  type Diagnostic,
  type SourceRange,
} from "../../grammar/diagnostics.js";
import type { Graph } from "../ir/graph.js";
import { layers } from "./layers.js";
import { lowerNetwork } from "./lower.js";
import { didYouMean } from "./suggest.js";

export interface SourceHost {
  /** The file's text, or undefined when it cannot be read. */
  read(path: string): string | undefined;
  /** The path of `relative` as written in a `use` of the file `from`. */
  resolve(from: string, relative: string): string;
  /** Where a path really leads, links followed (undefined when nothing is there); a host
   * with links has this, so that a link cannot lead a `use` out of its folder. */
  real?(path: string): string | undefined;
}

export interface FrontendOptions {
  /** Which network of the entry file to lower, when it declares several. */
  readonly network?: string;
  /**
   * The folder `use` may read below ("" for any relative path); the entry file's folder by
   * default. A `use` reaching elsewhere is an error, its file never read.
   */
  readonly root?: string;
}

export interface FrontendResult {
  readonly graph?: Graph;
  readonly diagnostics: readonly Diagnostic[];
  /** Every file read, by path: what diagnostics point into. */
  readonly sources: ReadonlyMap<string, string>;
}

function error(
  code: string,
  message: string,
  range: SourceRange,
  notes?: Diagnostic["notes"],
): Diagnostic {
  return { code, severity: "error", message, range, ...(notes ? { notes } : {}) };
}

function loadFiles(
  entry: string,
  host: SourceHost,
  sources: Map<string, string>,
  diagnostics: Diagnostic[],
  rootOption: string | undefined,
): FileAst[] {
  const text = host.read(entry);
  if (text === undefined) {
    diagnostics.push(error("file", `cannot read '${entry}'`, fileStart(entry)));
    return [];
  }
  const files: FileAst[] = [];
  // `use` reads files below the entry file's folder only (where the network and its blocks
  // live): never a path that climbs out of it or starts at the root.
  const folder = (p: string): string => (p.includes("/") ? p.slice(0, p.lastIndexOf("/") + 1) : "");
  const root =
    rootOption === undefined || rootOption === ""
      ? (rootOption ?? folder(entry))
      : rootOption.endsWith("/")
        ? rootOption
        : `${rootOption}/`;
  const inside = (path: string): boolean =>
    root === ""
      ? !path.startsWith("/") && path !== ".." && !path.startsWith("../")
      : path.startsWith(root);
  const queue: { path: string; text: string }[] = [{ path: entry, text }];
  sources.set(entry, text);
  for (let item = queue.shift(); item; item = queue.shift()) {
    const parsed = parseSource(item.text, item.path);
    diagnostics.push(...parsed.diagnostics);
    files.push(parsed.ast);
    for (const use of parsed.ast.uses) {
      const path = host.resolve(item.path, use.path);
      if (sources.has(path)) continue; // imported already (or a cycle): blocks are loaded once
      const real = host.real?.(path);
      const realRoot = host.real?.(root === "" ? "." : root);
      const linkedOut =
        real !== undefined && realRoot !== undefined && !real.startsWith(`${realRoot}/`);
      if (!inside(path) || use.path.startsWith("/") || linkedOut) {
        diagnostics.push(
          error(
            "use-outside",
            `'${use.path}' ${linkedOut ? "leads through a link to a file" : "lies"} outside ${root ? `'${root}'` : "the working folder"}; use reads only files below the entry file's folder`,
            use.range,
          ),
        );
        continue;
      }
      const used = host.read(path);
      if (used === undefined) {
        diagnostics.push(
          error("missing-file", `cannot read '${use.path}' (looked for '${path}')`, use.range),
        );
        continue;
      }
      sources.set(path, used);
      queue.push({ path, text: used });
    }
  }
  return files;
}

function blockTable(files: readonly FileAst[], diagnostics: Diagnostic[]): Map<string, BlockDecl> {
  const blocks = new Map<string, BlockDecl>();
  for (const file of files) {
    for (const block of file.blocks) {
      const name = block.name.name;
      const first = blocks.get(name);
      if (first) {
        diagnostics.push(
          error("duplicate-block", `block '${name}' is defined twice`, block.name.range, [
            { range: first.name.range, message: `first definition of '${name}'` },
          ]),
        );
        continue;
      }
      if (Object.hasOwn(layers, name)) {
        diagnostics.push(
          error(
            "duplicate-block",
            `block '${name}' has the name of a built-in layer`,
            block.name.range,
          ),
        );
        continue;
      }
      const params = new Set<string>();
      for (const p of block.params) {
        if (params.has(p.name.name)) {
          diagnostics.push(
            error("duplicate-name", `parameter '${p.name.name}' is declared twice`, p.name.range),
          );
        }
        params.add(p.name.name);
      }
      blocks.set(name, block);
      networkOnlyStatements(block.body, name, diagnostics);
    }
  }
  return blocks;
}

/** `input` and `output` belong to networks: reported in every block, called or not. */
function networkOnlyStatements(
  body: readonly Statement[],
  block: string,
  diagnostics: Diagnostic[],
): void {
  for (const s of body) {
    if (s.kind === "input" || s.kind === "output") {
      const message = `'${s.kind}' belongs in a network, not in block '${block}'`;
      diagnostics.push(error(s.kind, message, s.kind === "input" ? s.name.range : s.range));
    }
    const chain = s.kind === "let" || s.kind === "chain" ? s.chain : undefined;
    for (const step of chain?.steps ?? []) {
      const op = step.op;
      if (op.kind === "repeat") networkOnlyStatements(op.body, block, diagnostics);
      if (op.kind === "combine") {
        for (const b of op.branches ?? []) networkOnlyStatements(b.body, block, diagnostics);
      }
    }
  }
}

function chooseNetwork(
  entry: FileAst,
  wanted: string | undefined,
  diagnostics: Diagnostic[],
): NetworkDecl | undefined {
  const names = entry.networks.map((n) => n.name.name);
  if (wanted !== undefined) {
    const found = entry.networks.find((n) => n.name.name === wanted);
    if (!found) {
      const known = names.length ? `; it declares ${names.join(", ")}` : "";
      diagnostics.push(
        error(
          "no-network",
          `'${entry.file}' has no network '${wanted}'${didYouMean(wanted, names)}${known}`,
          fileStart(entry.file),
        ),
      );
    }
    return found;
  }
  if (entry.networks.length === 0) {
    diagnostics.push(
      error("no-network", `'${entry.file}' declares no network`, fileStart(entry.file)),
    );
    return undefined;
  }
  if (entry.networks.length > 1) {
    diagnostics.push(
      error(
        "no-network",
        `'${entry.file}' declares several networks (${names.join(", ")}); choose one with --network`,
        fileStart(entry.file),
      ),
    );
    return undefined;
  }
  return entry.networks[0];
}

/** Parses, resolves imports and lowers one network to IR. Never throws on bad input. */
export function compileFrontend(
  entry: string,
  host: SourceHost,
  options: FrontendOptions = {},
): FrontendResult {
  const program = loadProgram(entry, host, options.root);
  if (!program.files[0] || !program.syntaxOk) return finish(program);
  const network = chooseNetwork(program.files[0], options.network, program.diagnostics);
  if (!network) return finish(program);
  const lowered = lowerNetwork(network, program.blocks);
  program.diagnostics.push(...lowered.diagnostics);
  return finish(program, lowered.graph && [lowered.graph]);
}

export interface CheckResult extends Omit<FrontendResult, "graph"> {
  /** The IR of every network that lowered without errors. */
  readonly graphs: readonly Graph[];
}

/** Checks every network of the entry file (`cnnc check`): all their errors in one run. */
export function checkAllNetworks(entry: string, host: SourceHost, root?: string): CheckResult {
  const program = loadProgram(entry, host, root);
  const graphs: Graph[] = [];
  const entryAst = program.files[0];
  if (entryAst && program.syntaxOk) {
    if (entryAst.networks.length === 0) chooseNetwork(entryAst, undefined, program.diagnostics);
    for (const network of entryAst.networks) {
      const lowered = lowerNetwork(network, program.blocks);
      program.diagnostics.push(...lowered.diagnostics);
      if (lowered.graph) graphs.push(lowered.graph);
    }
  }
  const { diagnostics, sources } = finish(program);
  return { diagnostics, sources, graphs };
}

interface Program {
  /** No syntax errors: the trees mean what they say and can be lowered. */
  readonly syntaxOk: boolean;
  readonly files: readonly FileAst[];
  readonly blocks: ReadonlyMap<string, BlockDecl>;
  readonly diagnostics: Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
}

function loadProgram(entry: string, host: SourceHost, root?: string): Program {
  const sources = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const files = loadFiles(entry, host, sources, diagnostics, root);
  const syntaxOk = !hasErrors(diagnostics);
  // Blocks are only read from trees without syntax errors; their own errors (a duplicate, a
  // clash with a layer) skip that block and let lowering report the rest.
  const blocks = syntaxOk ? blockTable(files, diagnostics) : new Map<string, BlockDecl>();
  return { syntaxOk, files, blocks, diagnostics, sources };
}

function finish(program: Program, graphs?: readonly Graph[]): FrontendResult {
  const graph = graphs?.[0];
  // One error found both by a file-level check and by lowering (or by lowering two networks
  // that call the same block) is reported once.
  const seen = new Set<string>();
  const diagnostics = program.diagnostics.sort(compareDiagnostics).filter((d) => {
    const key = `${d.range.file}:${d.range.start.offset}:${d.severity}:${d.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
  return {
    ...(graph && !hasErrors(diagnostics) ? { graph } : {}),
    diagnostics,
    sources: program.sources,
  };
}

/** A host over an in-memory map of files (tests, the browser playground). */
export function memoryHost(files: Readonly<Record<string, string>>): SourceHost {
  return {
    read: (path) => files[path],
    resolve(from, relative) {
      const dir = from.includes("/") ? from.slice(0, from.lastIndexOf("/") + 1) : "";
      const parts: string[] = [];
      for (const part of (dir + relative).split("/")) {
        if (part === "..") parts.pop();
        else if (part !== "." && part !== "") parts.push(part);
      }
      return (dir.startsWith("/") ? "/" : "") + parts.join("/");
    },
  };
}
