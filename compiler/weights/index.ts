export { initWeights, random, randomInputs } from "./init.js";
export {
  readSafetensors,
  writeSafetensors,
  SafetensorsError,
  type NamedTensor,
} from "./safetensors.js";
export { bindWeights, WeightsError } from "./bind.js";
