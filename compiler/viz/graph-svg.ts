// A picture of a network: layers as boxes in layers (Sugiyama-style, laid out by dagre), top
// to bottom from the inputs, edges labelled with the tensor shape that flows along them.
// Pure string output (no DOM), so `cnnc graph` and the playground draw the same SVG.
import dagre from "@dagrejs/dagre";
import { CompileError } from "../errors.js";
import { valueShapes, type Graph, type Node, type Shape } from "../ir/graph.js";
import { isDepthwise, nodeActivation, opDef, type Traits } from "../ops/index.js";

export interface GraphSvgOptions {
  /** Highlight these layers (e.g. the one picked in the playground). */
  readonly highlight?: ReadonlySet<string>;
  /**
   * Blocks drawn as one box each, by the prefix their layers' names share (`inception_3a`
   * for `inception_3a.branch_1.conv_1`): the box says how many layers it holds, and edges
   * inside it are left out. An outer collapsed block wins over an inner one.
   */
  readonly collapsed?: ReadonlySet<string>;
}

/** The blocks a network's layer names nest in, outermost first: `a`, `a.b` for `a.b.conv_1`. */
export function blockPrefixes(graph: Graph): string[] {
  const out = new Set<string>();
  for (const n of graph.nodes) {
    const parts = n.name.split(".");
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join("."));
  }
  return [...out];
}

const pair = (p: readonly [number, number]): string =>
  p[0] === p[1] ? `${p[0]}` : `${p[0]}x${p[1]}`;

/**
 * One line saying what the layer does: `conv 3x3/2 64`, `dwconv 3x3 32`, `maxpool 3x3/2`,
 * `dense 1000`. `inChannels`: of the layer's first input (a conv is depthwise by isDepthwise).
 */
export function layerSummary(n: Node, inChannels?: number): string {
  const { act } = nodeActivation(n);
  const post = act === "none" ? "" : ` +${act}`;
  const window = (k: readonly [number, number], s: readonly [number, number]): string =>
    `${k[0]}x${k[1]}${s[0] > 1 || s[1] > 1 ? `/${pair(s)}` : ""}`;
  switch (n.op) {
    case "conv2d": {
      const a = n.attrs;
      const kind = isDepthwise(a, inChannels) ? "dwconv" : "conv";
      const groups = a.g > 1 && kind === "conv" ? ` g${a.g}` : "";
      const res = n.inputs.length > 1 ? " +res" : "";
      return `${kind} ${window(a.k, a.s)} ${a.filters}${groups}${res}${post}`;
    }
    case "deconv2d":
      return `deconv ${window(n.attrs.k, n.attrs.s)} ${n.attrs.filters}`;
    case "sepconv2d":
      return `sepconv ${window(n.attrs.k, n.attrs.s)} ${n.attrs.filters}`;
    case "maxpool2d":
      return `maxpool ${window(n.attrs.k, n.attrs.s)}${post}`;
    case "avgpool2d":
      return `avgpool ${window(n.attrs.k, n.attrs.s)}${post}`;
    case "dense":
      return `dense ${n.attrs.units}${n.inputs.length > 1 ? " +res" : ""}${post}`;
    case "batchnorm":
      return `bn${post}`;
    case "leaky_relu":
    case "elu":
      return `${n.op} ${n.attrs.alpha}`;
    default:
      return `${n.op}${post}`;
  }
}

type Family = Traits["family"] | "io" | "block";

const fills: Record<Family, string> = {
  conv: "#dbeafe",
  pool: "#dcfce7",
  norm: "#ffedd5",
  activation: "#f3f4f6",
  merge: "#ede9fe",
  dense: "#fee2e2",
  io: "#fef9c3",
  block: "#e0e7ff",
  shape: "#f5f5f4",
  resample: "#f5f5f4",
};

const escape = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const shapeText = (s: Shape): string => s.join("x");

const charWidth = 7.2; // 12px monospace
const textWidth = (s: string): number => s.length * charWidth;

/** The most layers drawn: a picture of more is unreadable, and the layout's depth-first
 * searches recurse once per layer of a chain (2000 overflow the default stack). */
export const maxDrawnLayers = 1000;

/** The network as an SVG document. */
export function graphSvg(graph: Graph, options: GraphSvgOptions = {}): string {
  if (graph.nodes.length > maxDrawnLayers)
    throw new CompileError(
      `the network has ${graph.nodes.length} layers; a graph draws at most ${maxDrawnLayers} (cnnc summary lists any number)`,
    );
  const shapes = valueShapes(graph);
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 36, edgesep: 12, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  interface Box {
    readonly id: string;
    readonly lines: readonly string[];
    readonly fill: string;
    readonly strong: boolean;
  }
  const boxes: Box[] = [];
  const addBox = (id: string, lines: string[], fam: Family, strong = false): void => {
    const width = Math.max(...lines.map(textWidth)) + 20;
    g.setNode(id, { width, height: 16 * lines.length + 12 });
    boxes.push({ id, lines, fill: fills[fam], strong });
  };
  for (const i of graph.inputs)
    addBox(`in:${i.name}`, [`input ${i.name}`, shapeText(i.shape)], "io");
  // The box a layer is drawn in: its own, or its outermost collapsed block's.
  const collapsed = options.collapsed ?? new Set<string>();
  const blockOf = (name: string): string | undefined => {
    const parts = name.split(".");
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join(".");
      if (collapsed.has(prefix)) return prefix;
    }
    return undefined;
  };
  const members = new Map<string, number>();
  for (const n of graph.nodes) {
    const block = blockOf(n.name);
    if (block !== undefined) {
      members.set(block, (members.get(block) ?? 0) + 1);
      continue;
    }
    addBox(
      `n:${n.name}`,
      [n.name, layerSummary(n, shapes.get(n.inputs[0]!)?.[0])],
      opDef(n.op).traits.family,
      options.highlight?.has(n.name),
    );
  }
  for (const [block, count] of members)
    addBox(
      `b:${block}`,
      [`${block} ▸`, `block: ${count} layer${count === 1 ? "" : "s"}`],
      "block",
      [...(options.highlight ?? [])].some((h) => h === block || h.startsWith(`${block}.`)),
    );
  for (const o of graph.outputs) addBox(`out:${o.name}`, [`output ${o.name}`], "io");
  const boxOf = (name: string): string => {
    const block = blockOf(name);
    return block === undefined ? `n:${name}` : `b:${block}`;
  };
  const source = (v: string): string =>
    graph.inputs.some((i) => i.name === v) ? `in:${v}` : boxOf(v);
  let edgeId = 0;
  const labels = new Map<string, string>();
  const drawn = new Set<string>();
  const edge = (from: string, to: string, label: string): void => {
    // (inside a collapsed block, or a second edge a block's box already draws)
    const key = `${from}\u0000${to}\u0000${label}`;
    if (from === to || drawn.has(key)) return;
    drawn.add(key);
    const name = `e${edgeId++}`;
    labels.set(name, label);
    g.setEdge(from, to, { label, width: textWidth(label), height: 14, labelpos: "c" }, name);
  };
  for (const n of graph.nodes)
    for (const v of new Set(n.inputs)) edge(source(v), boxOf(n.name), shapeText(shapes.get(v)!));
  for (const o of graph.outputs)
    edge(source(o.value), `out:${o.name}`, shapeText(shapes.get(o.value)!));
  dagre.layout(g);
  const { width = 0, height = 0 } = g.graph();
  const parts: string[] = [];
  for (const e of g.edges()) {
    const info = g.edge(e) as { points: { x: number; y: number }[]; x?: number; y?: number };
    const d = info.points
      .map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`)
      .join(" ");
    parts.push(
      `<path d="${d}" fill="none" stroke="#6b7280" stroke-width="1.2" marker-end="url(#arrow)"/>`,
    );
    const label = labels.get(e.name!) ?? "";
    if (info.x !== undefined && info.y !== undefined && label) {
      parts.push(
        `<text x="${info.x.toFixed(1)}" y="${(info.y + 4).toFixed(1)}" class="shape">${escape(label)}</text>`,
      );
    }
  }
  for (const b of boxes) {
    const n = g.node(b.id);
    const x = n.x - n.width / 2;
    const y = n.y - n.height / 2;
    parts.push(
      `<g class="layer" data-name="${escape(b.id.replace(/^(n|in|out|b):/, ""))}"${b.id.startsWith("b:") ? ` data-block="${escape(b.id.slice(2))}"` : ""}><rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${n.width.toFixed(1)}" height="${n.height.toFixed(1)}" rx="5" fill="${b.fill}" stroke="${b.strong ? "#dc2626" : "#374151"}" stroke-width="${b.strong ? 2.5 : 1}"/>` +
        b.lines
          .map(
            (line, k) =>
              `<text x="${n.x.toFixed(1)}" y="${(y + 20 + 16 * k).toFixed(1)}"${k === 0 ? ' class="name"' : ""}>${escape(line)}</text>`,
          )
          .join("") +
        "</g>",
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${Math.ceil(height)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12">
<title>${escape(graph.name)}</title>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>
<style>text { text-anchor: middle; fill: #111827; } text.name { font-weight: bold; } text.shape { fill: #4b5563; font-size: 10px; paint-order: stroke; stroke: #ffffff; stroke-width: 3px; }</style>
<rect width="100%" height="100%" fill="#ffffff"/>
${parts.join("\n")}
</svg>
`;
}
