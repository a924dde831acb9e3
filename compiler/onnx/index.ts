export { exportOnnx, ExportError, exportOpset } from "./export.js";
export {
  importedOnnxOps,
  importOnnx,
  ImportError,
  onnxDataInputs,
  onnxOpsets,
  readTensor,
  type ImportOptions,
} from "./import.js";
export { printCnn } from "./to-cnn.js";
