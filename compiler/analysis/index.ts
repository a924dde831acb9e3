export { summarize, summaryJson, displayOp } from "./summary.js";
export type { LayerReport, NetworkReport } from "./summary.js";
export { formatSummary, compact, grouped, bytes } from "./format.js";
export { cost } from "./cost.js";
export { receptiveField } from "./receptive-field.js";
export { activationMemory, type MemoryFigures } from "./memory.js";
