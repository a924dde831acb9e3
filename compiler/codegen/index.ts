export { planGraph, concatSlices, CodegenError, type CodegenOptions } from "./plan.js";
export type { Layout } from "./wgsl.js";
export { assignLayouts, layoutGroups, type LayoutGroups } from "./layout.js";
export type * from "./plan-types.js";
export { planMemory, checkMemoryPlan, offsetAlignment, type MemoryPlan } from "./memory.js";
export { defaultTiles, tileCandidates, tilesName, type GemmTiles } from "./gemm.js";
export { defaultGemv, gemvCandidates, gemvName, type GemvShape } from "./gemv.js";
export { depthwiseRun, depthwiseRuns } from "./direct.js";
export { pointwiseCandidates, pointwiseName, type PointwiseTiles } from "./pointwise.js";
export { blockedCandidates, blockedName, type BlockedTiles } from "./blocked.js";
export {
  candidates,
  choiceName,
  defaultChoice,
  readsLayout,
  splitKApplies,
  splitKParts,
  splitKTiles,
  tunable,
  targets,
  winogradApplies,
  type KernelChoice,
  type Target,
} from "./choice.js";
