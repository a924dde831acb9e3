// cnnc as a library: `import { compile, check, summarize } from "cnnc"`. The compile driver
// (compile.ts) is the one path from a network to a bundle; the CLI is a thin wrapper over it.
export {
  check,
  compile,
  compileGraph,
  pipelineFor,
  summarizeNetwork as summarize,
  type CompileOptions,
  type CompileResult,
  type Compiled,
  type OptLevel,
  type SourceOptions,
} from "./compile.js";
export { CompileError } from "./errors.js";
export {
  formatSummary,
  rowsAtDepth,
  type LayerReport,
  type NetworkReport,
  type SummaryOptions,
  type SummaryRow,
} from "./analysis/index.js";
export { interpret } from "./interp/index.js";
export { exportOnnx, importOnnx } from "./onnx/index.js";
export { parseIr, printIr, type Graph } from "./ir/index.js";
export { readSafetensors, writeSafetensors, type NamedTensor } from "./weights/index.js";
export { registry, opKinds, type OpKind, type OpDef } from "./ops/index.js";
export { formatDiagnostic, type Diagnostic } from "../grammar/diagnostics.js";
export { tuneGraph, tuningNames, type Loader, type Measurable, type TunedLayer } from "./tune.js";
