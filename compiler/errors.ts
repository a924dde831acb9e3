// The one rule for what went wrong, written once: a CompileError (and the runtime's
// RuntimeError and BundleError) is the user's, their input's or their device's problem, said
// in one line; the CLI prints it and exits 1. Anything else is a bug in cnnc: exit 2, with a
// stack. Every error class a user can cause extends CompileError.
export class CompileError extends Error {
  override name = "CompileError";
}

/** A network, data or option that training cannot take: said why, exit 1. */
export class TrainError extends CompileError {}
