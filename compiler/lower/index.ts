export { checkAllNetworks, compileFrontend, memoryHost } from "./program.js";
export type { CheckResult, FrontendOptions, FrontendResult, SourceHost } from "./program.js";
export { lowerNetwork, limits } from "./lower.js";
export { layers, layerNames } from "./layers.js";
