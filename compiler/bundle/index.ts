export { writeBundle } from "./write.js";
