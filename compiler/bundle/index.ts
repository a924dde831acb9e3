export { writeBundle } from "./write.js";
export { bundleReference } from "./reference.js";
