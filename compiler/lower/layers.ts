// The layers of the `.cnn` language, gathered from the op registry: each op's entry lists the
// layers that lower to it (`cnn.layers`), with their arguments, kinds and defaults
// (ops/language.ts says how arguments are written).
import { opKinds, registry } from "../ops/index.js";
import type { LayerDef } from "../ops/language.js";

export {
  Args,
  samePadding,
  type ArgKind,
  type ArgValue,
  type LayerDef,
  type LayerSite,
  type NodeSpec,
  type Padding,
  type ParamSpec,
} from "../ops/language.js";

export const layers: Readonly<Record<string, LayerDef>> = (() => {
  const table: Record<string, LayerDef> = {};
  for (const kind of opKinds) {
    for (const [name, layer] of Object.entries(registry[kind].cnn.layers)) {
      if (Object.hasOwn(table, name)) throw new Error(`internal: layer '${name}' defined twice`);
      table[name] = layer;
    }
  }
  return table;
})();

export const layerNames = Object.keys(layers);
