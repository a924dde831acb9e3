// Layer paths. Every layer gets a unique, readable path that names its node and its weights:
// a name given in the source (`stem: conv(...)`) verbatim, otherwise `<layer>_<n>` counting
// that layer kind within its scope (`conv_1`, `conv_2`). Block calls, branches and labelled
// repeats open scopes (`inception_1.branch_2.conv_1`, `layer1.2.conv_1`).
import type { SourceRange } from "../../grammar/diagnostics.js";
import type { Shape } from "../ir/graph.js";
import { LowerError } from "./errors.js";

interface ScopeState {
  readonly counters: Map<string, number>;
  readonly used: Map<string, SourceRange | undefined>;
}

export class NameScope {
  /** `hint` is added to duplicate-name errors, e.g. to suggest labelling a repeat. */
  constructor(
    readonly prefix: string,
    private readonly hint = "",
    private readonly state: ScopeState = { counters: new Map(), used: new Map() },
  ) {}

  private get counters(): Map<string, number> {
    return this.state.counters;
  }

  private get used(): Map<string, SourceRange | undefined> {
    return this.state.used;
  }

  /** The same scope (same names, same counters), with another duplicate-name hint. */
  withHint(hint: string): NameScope {
    return new NameScope(this.prefix, hint, this.state);
  }

  path(local: string): string {
    return this.prefix ? `${this.prefix}.${local}` : local;
  }

  /** The next free `<kind>_<n>`, claimed. */
  auto(kind: string): string {
    let n = this.counters.get(kind) ?? 0;
    let local: string;
    do local = `${kind}_${++n}`;
    while (this.used.has(local));
    this.counters.set(kind, n);
    this.used.set(local, undefined);
    return local;
  }

  /** Claims a name given in the source; a second use in the same scope is an error. */
  claim(local: string, range: SourceRange): string {
    if (this.used.has(local)) {
      const first = this.used.get(local);
      const where = first ? "" : " (as the automatic name of an earlier layer)";
      throw new LowerError(
        `the name '${local}' is already used in this scope${where}${this.hint}`,
        range,
        "duplicate-name",
        first ? [{ range: first, message: `'${local}' was first used here` }] : [],
      );
    }
    this.used.set(local, range);
    return local;
  }

  child(local: string): NameScope {
    return new NameScope(this.path(local));
  }
}

/** A value in the graph being built: a graph input or a node's output. */
export interface Value {
  readonly name: string;
  readonly shape: Shape;
}

/** What follows a failed step: later steps skip silently instead of piling up errors. */
export const poisoned = Symbol("poisoned");
export type Flow = Value | typeof poisoned | undefined;

/** Named values (`let`), lexically scoped: branches and repeat bodies see their parents'. */
export class ValueScope {
  private readonly values = new Map<string, { value: Flow; range: SourceRange }>();

  constructor(private readonly parent?: ValueScope) {}

  get(name: string): Flow | undefined {
    return this.values.get(name)?.value ?? this.parent?.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name) || (this.parent?.has(name) ?? false);
  }

  names(): string[] {
    return [...this.values.keys(), ...(this.parent?.names() ?? [])];
  }

  define(name: string, value: Flow, range: SourceRange): void {
    const first = this.values.get(name);
    if (first) {
      throw new LowerError(`the value '${name}' is already defined`, range, "duplicate-name", [
        { range: first.range, message: `'${name}' was defined here` },
      ]);
    }
    this.values.set(name, { value, range });
  }
}
