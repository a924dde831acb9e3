export { summarize, summaryJson, displayOp, rowsAtDepth } from "./summary.js";
export type { LayerReport, NetworkReport, SummaryOptions, SummaryRow } from "./summary.js";
export { formatSummary, compact, grouped, bytes } from "./format.js";
export { cost } from "./cost.js";
export { receptiveField } from "./receptive-field.js";
export { activationMemory, type MemoryFigures } from "./memory.js";
