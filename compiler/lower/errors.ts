import type { SourceRange } from "../../grammar/diagnostics.js";

/**
 * A user error found while lowering. Thrown inside one statement or step and caught at that
 * level, turned into a diagnostic, so that lowering goes on and reports the file's other errors.
 */
export class LowerError extends Error {
  constructor(
    message: string,
    readonly range: SourceRange,
    readonly code: string,
    readonly notes: readonly { range: SourceRange; message: string }[] = [],
  ) {
    super(message);
  }
}
