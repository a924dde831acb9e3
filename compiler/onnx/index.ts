export { exportOnnx, ExportError, exportOpset } from "./export.js";
