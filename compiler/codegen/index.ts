export { planGraph, CodegenError, type CodegenOptions } from "./plan.js";
export type * from "./plan-types.js";
