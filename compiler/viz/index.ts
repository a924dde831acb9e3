export {
  blockPrefixes,
  graphSvg,
  layerSummary,
  maxDrawnLayers,
  type GraphSvgOptions,
} from "./graph-svg.js";
