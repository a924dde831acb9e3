export { planGraph, CodegenError, type CodegenOptions } from "./plan.js";
export type * from "./plan-types.js";
export { planMemory, checkMemoryPlan, offsetAlignment, type MemoryPlan } from "./memory.js";
export { defaultTiles, tileCandidates, tilesName, type GemmTiles } from "./gemm.js";
