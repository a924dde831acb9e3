export { interpret, InputError, type Weights } from "./interpret.js";
export { erf } from "../ops/index.js";
