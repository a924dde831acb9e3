export {
  allPasses,
  decomposeExact,
  passesByName,
  runPasses,
  UnknownPassError,
  type RunPassesOptions,
} from "./pipeline.js";
export type { Pass, PassContext } from "./pass.js";
export { decomposeSpatial, exactTolerance } from "./decompose-spatial.js";
