export * from "./graph.js";

export * from "./builder.js";
export * from "./print.js";
export * from "./parse.js";
export * from "./verify.js";
