export { exportOnnx, ExportError, exportOpset } from "./export.js";
export { importedOnnxOps, importOnnx, ImportError, type ImportOptions } from "./import.js";
export { printCnn } from "./to-cnn.js";
