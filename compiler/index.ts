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
// Training (compiler/train/): the training graph, the float64 reference trainer and the loop;
// `trainingPlan` is what the runtime's GpuTrainer runs on WebGPU; `writeTrainingBundle` puts it
// in a training bundle for the runtime's loadTrainer.
export { trainingGraph, TrainError, type TrainGraph } from "./train/graph.js";
export { writeTrainingBundle } from "./bundle/write.js";
export { trainingPlan, trainingMemory, type TrainPlan } from "./train/plan.js";
export { trainingInit } from "./train/init.js";
export { Optimizer, learningRate, type OptimizerConfig, type Schedule } from "./train/optim.js";
export { readIdx, dataset, fitInput, type Dataset } from "./train/data.js";
export {
  ReferenceTrainer,
  evaluate,
  trainLoop,
  type EpochReport,
  type Trainer,
} from "./train/trainer.js";
