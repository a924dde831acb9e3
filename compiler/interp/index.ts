export { interpret, InputError, type Weights } from "./interpret.js";
export { erf, opImpls } from "./ops.js";
