export { graphSvg, layerSummary, type GraphSvgOptions } from "./graph-svg.js";
