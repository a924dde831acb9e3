// The playground: write a .cnn network (or open an ONNX model) and see, as you type, its
// diagnostics (the compiler runs in the page), a graph to pan, zoom, search and fold, its
// per-layer summary, any layer's attributes and receptive field over the input image; then
// compile it to WGSL and run it on this browser's WebGPU, with progress per pipeline. The
// source travels in the share link; the bundle, its WGSL and an ONNX export download.
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { syntaxHighlighting } from "@codemirror/language";
import { linter, lintGutter, type Diagnostic as EditorDiagnostic } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import { EditorView, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";
import { bytes, grouped, summarize, type NetworkReport } from "../compiler/analysis/index.js";
import { compileGraph } from "../compiler/compile.js";
import type { Graph } from "../compiler/ir/index.js";
import { compileFrontend, memoryHost } from "../compiler/lower/index.js";
import { exportOnnx, importOnnx, printCnn } from "../compiler/onnx/index.js";
import { blockPrefixes, graphSvg, maxDrawnLayers } from "../compiler/viz/index.js";
import {
  initWeights,
  random,
  readSafetensors,
  type NamedTensor,
} from "../compiler/weights/index.js";
import { formatDiagnostic } from "../grammar/index.js";
import {
  adapterClass,
  adapterDescription,
  browserDevice,
  GpuTrainer,
  imageToInput,
  loadModel,
  parseBundle,
} from "../runtime/browser.js";
import { dataset, fitInput, readIdx, type Dataset } from "../compiler/train/data.js";
import { trainingGraph } from "../compiler/train/graph.js";
import { trainingInit } from "../compiler/train/init.js";
import { trainingPlan } from "../compiler/train/plan.js";
import { writeTrainingBundle } from "../compiler/bundle/write.js";
import type { OptimizerKind } from "../compiler/train/optim.js";
import { trainLoop } from "../compiler/train/trainer.js";
import { cnnHighlight, cnnLanguage } from "./language.js";
import alexnet from "../examples/alexnet.cnn";
import fashionLenet from "../examples/fashion_lenet.cnn";
import fashionResnet from "../examples/fashion_resnet.cnn";
import googlenet from "../examples/googlenet.cnn";
import lenet5 from "../examples/lenet5.cnn";
import mobilenet from "../examples/mobilenet_v1.cnn";
import resnet18 from "../examples/resnet18.cnn";
import resnet50 from "../examples/resnet50.cnn";
import sepnet from "../examples/sepnet.cnn";
import tiny from "../examples/tiny.cnn";
import vgg16 from "../examples/vgg16.cnn";

const examples: Record<string, string> = {
  "LeNet-5": lenet5,
  Tiny: tiny,
  SepNet: sepnet,
  AlexNet: alexnet,
  "VGG-16": vgg16,
  GoogLeNet: googlenet,
  "ResNet-18": resnet18,
  "ResNet-50": resnet50,
  "MobileNet-v1": mobilenet,
  "Fashion LeNet": fashionLenet,
  "Fashion ResNet": fashionResnet,
};

const file = "main.cnn";
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

interface Compiled {
  /** The source it was compiled from. */
  readonly text: string;
  readonly graph?: Graph;
  readonly report?: NetworkReport;
  readonly problems: string;
  readonly diagnostics: EditorDiagnostic[];
}

let current: Compiled = { text: "", problems: "", diagnostics: [] };
let selected: string | undefined;
let weights: { readonly name: string; readonly tensors: Map<string, NamedTensor> } | undefined;
let image: { readonly name: string; readonly blob: Blob; readonly url: string } | undefined;
let collapsed = new Set<string>();
/** Bumped whenever another network is shown: a run of the last one then reports nothing. */
let shown = 0;

function escape(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function compileCnn(text: string): Compiled {
  const result = compileFrontend(file, memoryHost({ [file]: text }));
  const sources = new Map([[file, text]]);
  const diagnostics = result.diagnostics.map((d) => ({
    from: Math.min(d.range.start.offset, text.length),
    to: Math.min(Math.max(d.range.end.offset, d.range.start.offset + 1), text.length),
    severity: d.severity,
    message: `${d.range.start.line}:${d.range.start.column}: ${d.message}`,
  }));
  const problems = result.diagnostics.map((d) => formatDiagnostic(d, sources)).join("\n\n");
  if (!result.graph) return { text, problems, diagnostics };
  return { text, graph: result.graph, report: summarize(result.graph), problems, diagnostics };
}

// ---- status bar ----------------------------------------------------------------------------

function setStatus(text: string, fraction?: number): void {
  const status = $("status");
  status.textContent = text;
  status.title = text;
  const bar = $<HTMLProgressElement>("progress");
  bar.hidden = fraction === undefined;
  if (fraction !== undefined) bar.value = fraction;
}

// ---- summary, layer, receptive field -------------------------------------------------------

function renderSummary(report: NetworkReport): void {
  const rows = report.layers
    .map(
      (l) =>
        `<tr data-name="${escape(l.name)}"${l.name === selected ? ' class="selected"' : ""}><td>${escape(l.name)}</td><td>${escape(l.op)}</td><td>${l.output.join("x")}</td><td>${grouped(l.params)}</td><td>${grouped(l.units)}</td><td>${grouped(l.connections)}</td><td>${grouped(l.macs)}</td><td>${l.global ? "global" : `${l.rf[0]}x${l.rf[1]}`}</td><td>${bytes(l.activationBytes)}</td></tr>`,
    )
    .join("");
  const t = report.totals;
  $("summary").innerHTML =
    `<table><thead><tr><th>layer</th><th>op</th><th>output</th><th>params</th><th>units</th><th>connections</th><th>MACs</th><th>RF</th><th>activations</th></tr></thead><tbody>${rows}</tbody>
<tfoot><tr><td>total</td><td></td><td></td><td id="total-params">${grouped(t.params)}</td><td>${grouped(t.units)}</td><td>${grouped(t.connections)}</td><td id="total-macs">${grouped(t.macs)}</td><td>${t.rf ? `${t.rf[0]}x${t.rf[1]}` : ""}</td><td>${bytes(t.activationBytes)}</td></tr></tfoot></table>`;
}

function attrText(v: unknown): string {
  if (Array.isArray(v)) return v.map(attrText).join("x");
  if (typeof v === "object" && v !== null) return JSON.stringify(v);
  return String(v);
}

function renderLayer(graph: Graph, report: NetworkReport): void {
  const name = selected ?? report.layers.at(-1)?.name;
  const node = graph.nodes.find((n) => n.name === name);
  const row = report.layers.find((l) => l.name === name);
  if (!node || !row) {
    $("layer").innerHTML = "<h2>Layer</h2><p>Click a layer in the graph or the summary.</p>";
    return;
  }
  const fields: [string, string][] = [
    ["op", node.op],
    ...Object.entries(node.attrs as Record<string, unknown>).map(
      ([k, v]) => [k, attrText(v)] as [string, string],
    ),
    ["inputs", node.inputs.join(", ")],
    ["output", row.output.join("x")],
    ["params", grouped(row.params)],
    ["units", grouped(row.units)],
    ["connections", grouped(row.connections)],
    ["MACs", grouped(row.macs)],
    ["FLOPs", grouped(row.flops)],
    ["backward MACs", grouped(row.backwardMacs)],
    ["activations", bytes(row.activationBytes)],
  ];
  $("layer").innerHTML =
    `<h2>${escape(node.name)}</h2><dl>${fields.map(([k, v]) => `<dt>${escape(k)}</dt><dd>${escape(v)}</dd>`).join("")}</dl>`;
}

function renderField(report: NetworkReport): void {
  const layer = report.layers.find((l) => l.name === selected) ?? report.layers.at(-1);
  const input = report.inputs[0];
  if (!layer || !input || input.shape.length !== 3) {
    $("field").innerHTML = "";
    return;
  }
  const [, h, w] = input.shape as [number, number, number];
  const scale = Math.min(280 / h, 280 / w);
  const [rh, rw] = layer.global ? [h, w] : [Math.min(layer.rf[0], h), Math.min(layer.rf[1], w)];
  // The field of the output pixel at the centre, clipped to the input.
  const x0 = (w - rw) / 2;
  const y0 = (h - rh) / 2;
  const step = Math.max(1, Math.round(Math.max(h, w) / 32));
  const lines: string[] = [];
  for (let y = 0; y <= h; y += step)
    lines.push(`<line x1="0" y1="${y * scale}" x2="${w * scale}" y2="${y * scale}"/>`);
  for (let x = 0; x <= w; x += step)
    lines.push(`<line x1="${x * scale}" y1="0" x2="${x * scale}" y2="${h * scale}"/>`);
  const picture = image
    ? `<image href="${image.url}" width="${w * scale}" height="${h * scale}" preserveAspectRatio="none" opacity="0.85"/>`
    : "";
  $("field").innerHTML =
    `<h2>Receptive field</h2><p><b>${escape(layer.name)}</b>: each output sees ${layer.global ? "the whole input" : `${layer.rf[0]}x${layer.rf[1]} input pixels`}; neighbouring outputs are ${layer.jump[0]}x${layer.jump[1]} pixels apart. Input ${h}x${w}${image ? ` (${escape(image.name)})` : ""}${step > 1 ? `, grid every ${step} pixels` : ""}.</p>
<svg width="${w * scale}" height="${h * scale}" viewBox="0 0 ${w * scale} ${h * scale}">${picture}<g stroke="#d1d5db" stroke-opacity="0.7">${lines.join("")}</g>
<rect x="${x0 * scale}" y="${y0 * scale}" width="${rw * scale}" height="${rh * scale}" fill="rgba(220,38,38,0.25)" stroke="#dc2626" stroke-width="2"/></svg>`;
}

// ---- graph: pan, zoom, search, fold --------------------------------------------------------

const view = { scale: 1, x: 0, y: 0 };
let drawnFor: Graph | undefined;

function applyView(): void {
  $("graph-canvas").style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
}

function graphSize(): { width: number; height: number } {
  const svg = $("graph-canvas").querySelector("svg");
  return {
    width: Number(svg?.getAttribute("width") ?? 0),
    height: Number(svg?.getAttribute("height") ?? 0),
  };
}

/** A graph drawn while its pane was hidden (the Summary tab): fitted when it shows. */
let fitPending = false;

function fit(): void {
  const port = $("graph-viewport").getBoundingClientRect();
  const { width, height } = graphSize();
  fitPending = !width || !height || !port.width || !port.height;
  if (fitPending) return;
  // The whole graph, at most actual size; a tall one at a readable size, from its top.
  view.scale = Math.min(1, port.width / width, Math.max(port.height / height, 0.75));
  view.x = Math.max(0, (port.width - width * view.scale) / 2);
  view.y = 0;
  applyView();
}

function zoom(factor: number, at?: { x: number; y: number }): void {
  const port = $("graph-viewport").getBoundingClientRect();
  const cx = at?.x ?? port.width / 2;
  const cy = at?.y ?? port.height / 2;
  const next = Math.min(4, Math.max(0.05, view.scale * factor));
  view.x = cx - ((cx - view.x) * next) / view.scale;
  view.y = cy - ((cy - view.y) * next) / view.scale;
  view.scale = next;
  applyView();
}

/** Scrolls the graph so that the layer's box is at the centre of the pane. */
function centreOn(name: string): void {
  const box = $("graph-canvas").querySelector(`g.layer[data-name="${CSS.escape(name)}"] rect`);
  if (!box) return;
  const r = box as SVGRectElement;
  const port = $("graph-viewport").getBoundingClientRect();
  const x = Number(r.getAttribute("x")) + Number(r.getAttribute("width")) / 2;
  const y = Number(r.getAttribute("y")) + Number(r.getAttribute("height")) / 2;
  view.scale = Math.max(view.scale, 0.6);
  view.x = port.width / 2 - x * view.scale;
  view.y = port.height / 2 - y * view.scale;
  applyView();
}

function renderGraph(graph: Graph): void {
  const canvas = $("graph-canvas");
  const blocks = blockPrefixes(graph);
  $("collapse").hidden = blocks.length === 0;
  $("collapse").textContent = collapsed.size ? "Expand blocks" : "Collapse blocks";
  if (graph.nodes.length > maxDrawnLayers) {
    canvas.innerHTML = `<p id="graph-note">${graph.nodes.length} layers: too many to draw (at most ${maxDrawnLayers}); the summary lists them all.</p>`;
    return;
  }
  canvas.innerHTML = graphSvg(graph, {
    ...(selected ? { highlight: new Set([selected]) } : {}),
    collapsed,
  });
  if (drawnFor !== graph) {
    const first = drawnFor === undefined || drawnFor.name !== graph.name;
    drawnFor = graph;
    if (first) fit();
  }
  $("layer-names").innerHTML = graph.nodes
    .map((n) => `<option value="${escape(n.name)}">`)
    .join("");
}

function render(): void {
  $("problems").textContent = current.problems;
  $("problems").hidden = current.problems === "";
  if (!current.graph || !current.report) return;
  renderSummary(current.report);
  renderGraph(current.graph);
  renderLayer(current.graph, current.report);
  renderField(current.report);
}

function select(name: string | undefined, centre = false): void {
  if (!name || !current.report?.layers.some((l) => l.name === name)) return;
  selected = name;
  // A layer inside a folded block: unfold the blocks around it.
  for (const b of [...collapsed]) if (name.startsWith(`${b}.`)) collapsed.delete(b);
  render();
  if (centre) centreOn(name);
}

function showTab(which: "graph" | "summary" | "train"): void {
  $("tab-graph").setAttribute("aria-selected", String(which === "graph"));
  $("tab-summary").setAttribute("aria-selected", String(which === "summary"));
  $("tab-train").setAttribute("aria-selected", String(which === "train"));
  $("graph-viewport").hidden = which !== "graph";
  $("graph-tools").style.visibility = which === "graph" ? "visible" : "hidden";
  $("summary").hidden = which !== "summary";
  $("train").hidden = which !== "train";
  if (which === "graph" && fitPending) fit();
  if (which === "summary")
    $("summary").querySelector("tr.selected")?.scrollIntoView({ block: "nearest" });
}
$("tab-graph").addEventListener("click", () => showTab("graph"));
$("tab-summary").addEventListener("click", () => showTab("summary"));
$("tab-train").addEventListener("click", () => showTab("train"));
$("zoom-in").addEventListener("click", () => zoom(1.25));
$("zoom-out").addEventListener("click", () => zoom(0.8));
$("fit").addEventListener("click", fit);
$("collapse").addEventListener("click", () => {
  const graph = current.graph;
  if (!graph) return;
  // Fold the outermost blocks (an inner one would be drawn inside its outer box anyway).
  collapsed = collapsed.size
    ? new Set()
    : new Set(blockPrefixes(graph).filter((b) => !b.includes(".")));
  render();
  fit();
});
$("search").addEventListener("change", () => {
  const wanted = $<HTMLInputElement>("search").value.trim();
  const graph = current.graph;
  if (!wanted || !graph) return;
  const hit =
    graph.nodes.find((n) => n.name === wanted) ??
    graph.nodes.find((n) => n.name.toLowerCase().includes(wanted.toLowerCase()));
  if (hit) select(hit.name, true);
  else setStatus(`no layer named like '${wanted}'`);
});

// Drag to pan, wheel to zoom; a click without a drag picks a layer (or unfolds a block).
{
  const port = $("graph-viewport");
  let drag: { x: number; y: number; moved: boolean } | undefined;
  port.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, moved: false };
  });
  port.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    if (!drag.moved) port.setPointerCapture(e.pointerId);
    drag.moved = true;
    port.classList.add("dragging");
    view.x += dx;
    view.y += dy;
    drag.x = e.clientX;
    drag.y = e.clientY;
    applyView();
  });
  port.addEventListener("pointerup", (e) => {
    const wasDrag = drag?.moved;
    drag = undefined;
    port.classList.remove("dragging");
    if (wasDrag) return;
    const el = (e.target as Element).closest("g.layer");
    const block = el?.getAttribute("data-block");
    if (block) {
      collapsed.delete(block);
      render();
      centreOn(current.graph?.nodes.find((n) => n.name.startsWith(`${block}.`))?.name ?? block);
      return;
    }
    select(el?.getAttribute("data-name") ?? undefined);
  });
  port.addEventListener(
    "wheel",
    (e) => {
      e.preventDefault();
      const r = port.getBoundingClientRect();
      zoom(Math.exp(-e.deltaY * 0.0015), { x: e.clientX - r.left, y: e.clientY - r.top });
    },
    { passive: false },
  );
}
$("summary").addEventListener("click", (e) => {
  const el = (e.target as Element).closest("[data-name]");
  select(el?.getAttribute("data-name") ?? undefined, true);
});

// ---- the editor and the document shown -----------------------------------------------------

const editor = new EditorView({
  parent: $("editor"),
  state: EditorState.create({
    doc: "",
    extensions: [
      lineNumbers(),
      history(),
      highlightActiveLine(),
      keymap.of([...defaultKeymap, ...historyKeymap]),
      cnnLanguage,
      syntaxHighlighting(cnnHighlight),
      lintGutter(),
      linter(
        (v) => {
          current = compileCnn(v.state.doc.toString());
          render();
          return current.diagnostics;
        },
        { delay: 250 },
      ),
    ],
  }),
});

/**
 * Shows another network: what belonged to the last one (status, selection, folds, weights)
 * goes. `note` says where it came from, above the editor.
 */
function show(text: string, note?: string): void {
  shown++;
  selected = undefined;
  collapsed = new Set();
  drawnFor = undefined;
  weights = undefined;
  setStatus("ready");
  $("mode").hidden = note === undefined;
  $("mode").textContent = note ?? "";
  editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: text } });
}

const picker = $<HTMLSelectElement>("examples");
for (const name of Object.keys(examples)) picker.add(new Option(name, name));
picker.addEventListener("change", () => {
  show(examples[picker.value]!);
  window.history.replaceState(null, "", location.pathname + location.search);
});

// ---- share link: the source, deflated, in the URL's fragment ------------------------------

function base64url(data: Uint8Array): string {
  let s = "";
  for (const b of data) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unbase64url(text: string): Uint8Array {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

async function through(data: Uint8Array, stream: GenericTransformStream): Promise<Uint8Array> {
  const piped = new Blob([data as BlobPart]).stream().pipeThrough(stream as TransformStream);
  return new Uint8Array(await new Response(piped).arrayBuffer());
}

$("share").addEventListener("click", async () => {
  const packed = await through(
    new TextEncoder().encode(editor.state.doc.toString()),
    new CompressionStream("deflate-raw"),
  );
  window.history.replaceState(null, "", `#src=${base64url(packed)}`);
  const kept = weights ? `; ${weights.name} stays on this machine` : "";
  try {
    await navigator.clipboard.writeText(location.href);
    setStatus(`link copied: it holds this network's source${kept}`);
  } catch {
    setStatus(`the link in the address bar holds this network's source${kept}`);
  }
});

async function sharedSource(): Promise<string | undefined> {
  const m = /^#src=([\w-]+)$/.exec(location.hash);
  if (!m) return undefined;
  try {
    const text = await through(unbase64url(m[1]!), new DecompressionStream("deflate-raw"));
    return new TextDecoder().decode(text);
  } catch {
    setStatus("the link's source could not be read; showing LeNet-5");
    return undefined;
  }
}

// ---- files in: .cnn, .onnx, .safetensors, images --------------------------------------------

$("upload").addEventListener("change", async () => {
  const input = $<HTMLInputElement>("upload");
  const chosen = input.files?.[0];
  input.value = "";
  if (!chosen) return;
  const name = chosen.name;
  try {
    if (/\.cnn$/i.test(name)) {
      show(await chosen.text(), name);
    } else if (/\.onnx$/i.test(name)) {
      setStatus(`importing ${name}…`);
      const graph = importOnnx(new Uint8Array(await chosen.arrayBuffer()));
      show(
        printCnn(graph, `Imported from ${name} by the cnnc playground; its weights by layer path.`),
        `${name}: imported as .cnn with its ${graph.weights.length} weight tensors (edits that keep layer names and shapes keep them)`,
      );
      weights = {
        name,
        tensors: new Map(
          graph.weights.map((w) => [
            w.name,
            { shape: w.shape, data: graph.constants!.get(w.name)! },
          ]),
        ),
      };
      setStatus(`${name}: ${graph.nodes.length} layers imported, with its weights`);
    } else if (/\.safetensors$/i.test(name)) {
      const tensors = readSafetensors(new Uint8Array(await chosen.arrayBuffer()), name);
      weights = { name, tensors };
      setStatus(`weights: ${name} (${tensors.size} tensors), used by Run and the exports`);
    } else if (chosen.type.startsWith("image/")) {
      if (image) URL.revokeObjectURL(image.url);
      image = { name, blob: chosen, url: URL.createObjectURL(chosen) };
      setStatus(`input image: ${name}, resized to the network's input by Run`);
      render();
    } else {
      setStatus(`${name}: open a .cnn, .onnx, .safetensors or an image`);
    }
  } catch (e) {
    setStatus(`${name}: ${(e as Error).message}`);
  }
});

// ---- compile, export, run ------------------------------------------------------------------

// For any adapter: a page runs on a GPU or, without one, on a CPU emulation (SwiftShader in
// Chrome); the runtime takes the kernels of the adapter it finds, and an exported bundle serves
// either.
function build(graph: Graph): ReturnType<typeof compileGraph> {
  return compileGraph(graph, {
    seed: 0,
    target: "any",
    ...(weights ? { weights: weights.tensors, weightsSource: weights.name } : {}),
  });
}

function weightsNote(graph: Graph): string {
  return weights
    ? `weights ${weights.name}`
    : graph.constants
      ? "its own weights"
      : "random weights";
}

function download(name: string, data: Uint8Array | string, type: string): void {
  const url = URL.createObjectURL(new Blob([data as BlobPart], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * The network as the editor holds it now: the linter compiles 250 ms after the last change, so
 * a Run or an export right after a change (or a switch of example) compiles it here first.
 */
function latest(): Compiled {
  const text = editor.state.doc.toString();
  if (current.text !== text) {
    current = compileCnn(text);
    render();
  }
  return current;
}

/** Where training starts: the weights opened, or He/Glorot draws. */
function startWeights(g: Graph): Map<string, Float32Array> {
  return weights ? new Map([...weights.tensors].map(([k, t]) => [k, t.data])) : trainingInit(g, 1);
}

/** The Train tab's optimiser and learning rate. */
function trainConfig(): { kind: OptimizerKind; lr: number } {
  const lr = Number($<HTMLInputElement>("train-lr").value);
  if (!(lr > 0)) throw new Error("the learning rate must be a positive number");
  return { kind: $<HTMLSelectElement>("train-optimizer").value as OptimizerKind, lr };
}

$("export").addEventListener("change", () => {
  const select = $<HTMLSelectElement>("export");
  const kind = select.value;
  select.value = "";
  const graph = latest().graph;
  if (!graph) return setStatus("fix the errors first");
  const base = graph.name.replace(/[^\w.-]+/g, "_") || "network";
  try {
    if (kind === "cnnb") {
      download(`${base}.cnnb`, build(graph).bundle!, "application/octet-stream");
    } else if (kind === "wgsl") {
      const { manifest } = parseBundle(build(graph).bundle!);
      const text = manifest.kernels
        .map((code, k) => {
          const users = manifest.dispatches.filter((d) => d.kernel === k).map((d) => d.label);
          return `// ---- kernel ${k}: ${users.join(", ")}\n${code}`;
        })
        .join("\n\n");
      download(`${base}.wgsl`, text, "text/plain");
    } else if (kind === "onnx") {
      const withWeights = weights
        ? { ...graph, constants: new Map([...weights.tensors].map(([k, t]) => [k, t.data])) }
        : { ...graph, constants: graph.constants ?? initWeights(graph, 0) };
      download(`${base}.onnx`, exportOnnx(withWeights), "application/octet-stream");
    } else if (kind === "train") {
      // what the Train tab would start from: its optimiser and rate, these weights or draws
      const tg = trainingGraph(graph);
      const config = trainConfig();
      const plan = trainingPlan(tg, { optimizer: config });
      download(
        `${base}.train.cnnb`,
        writeTrainingBundle(plan, startWeights(tg.graph), config),
        "application/octet-stream",
      );
      return setStatus(
        `exported ${base}.train.cnnb: a training bundle (${config.kind}, lr ${config.lr}; loadTrainer trains it in a page)`,
      );
    } else return;
    setStatus(`exported ${base}.${kind} (${weightsNote(graph)})`);
  } catch (e) {
    setStatus(`export: ${(e as Error).message}`);
  }
});

$("run").addEventListener("click", async () => {
  const graph = latest().graph;
  if (!graph) return setStatus("fix the errors first");
  const ticket = shown;
  const mine = (text: string, fraction?: number): void => {
    if (ticket === shown) setStatus(text, fraction);
  };
  mine("compiling to WGSL…", 0);
  await new Promise((r) => setTimeout(r, 0)); // (let the status paint)
  try {
    const t0 = performance.now();
    const { bundle, plan } = build(graph);
    const compileMs = performance.now() - t0;
    const t1 = performance.now();
    const model = await loadModel(bundle!, {
      onCompiled: (done, total, layer) =>
        mine(`compiling pipelines: ${done} of ${total} (${layer})`, done / total),
    });
    const loadMs = performance.now() - t1;
    $("adapter").textContent = model.adapterName;
    const input = graph.inputs[0]!;
    const [c, h, w] = input.shape;
    const fromImage =
      image && input.shape.length === 3 && (c === 1 || c === 3)
        ? await imageToInput(image.blob, { width: w!, height: h!, channels: c })
        : undefined;
    const rand = random(1);
    const x =
      fromImage?.data ??
      Float32Array.from({ length: input.shape.reduce((a, b) => a * b, 1) }, () => rand());
    mine("running…", 1);
    await model.run({ [input.name]: x });
    const firstMs = performance.now() - t1;
    // A large network's first result comes from its quick start (kernels quick to compile on a
    // CPU emulation); the time shown is its own kernels', once they have compiled.
    const quick = model.info.quickStart;
    if (quick) {
      mine(`first result in ${firstMs.toFixed(0)} ms; compiling the network's own kernels…`, 1);
      await model.ready;
      await model.run({ [input.name]: x });
    }
    const t2 = performance.now();
    const out = await model.run({ [input.name]: x });
    const runMs = performance.now() - t2;
    model.dispose();
    const [name, values] = Object.entries(out)[0]!;
    const top = Array.from(values.data)
      .map((v, i) => [i, v] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([i, v]) => `${i}: ${v.toPrecision(4)}`)
      .join(", ");
    mine(
      `ran in ${runMs.toFixed(1)} ms (compiled in ${compileMs.toFixed(0)} ms, ${plan!.dispatches.length} dispatches, loaded in ${loadMs.toFixed(0)} ms, first result ${firstMs.toFixed(0)} ms after loading began${quick ? " from its quick start" : ""}) on ${model.adapterName}. ${name} [${values.shape.join("x")}], top 5 (${weightsNote(graph)}, ${fromImage ? image!.name : "random input"}): ${top}`,
    );
  } catch (e) {
    mine(`error: ${(e as Error).message}`);
  }
});

// ---- train ---------------------------------------------------------------------------------

/** The Fashion-MNIST sample the build copies beside the page (scripts/build-playground.mjs). */
let sample: Promise<{ train: Dataset; test: Dataset }> | undefined;

function fashionSample(): Promise<{ train: Dataset; test: Dataset }> {
  sample ??= (async () => {
    const idx = async (name: string) => {
      const response = await fetch(`fashion/${name}.gz`);
      if (!response.ok)
        throw new Error(`the Fashion-MNIST sample is not beside the page (${name})`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      return readIdx(await through(bytes, new DecompressionStream("gzip")), name);
    };
    const [xs, ys, xt, yt] = await Promise.all(
      ["train-images", "train-labels", "test-images", "test-labels"].map(idx),
    );
    return {
      train: dataset(xs!, ys!, 10, "the sample"),
      test: dataset(xt!, yt!, 10, "the sample"),
    };
  })();
  sample.catch(() => (sample = undefined));
  return sample;
}

/** The live loss curve: the training loss every few steps, on an axis from 0 to its start. */
function drawCurve(points: readonly (readonly [number, number])[], epochs: number): void {
  const top = Math.max(0.5, ...points.map((p) => p[1]));
  const [w, h] = [600, 200];
  const x = (e: number) => 40 + (e / epochs) * (w - 80);
  const y = (v: number) => h - 20 - (v / top) * (h - 30);
  const line = points.map(([e, v]) => `${x(e).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<line x1="40" x2="${x(epochs)}" y1="${y(f * top)}" y2="${y(f * top)}" stroke="#e5e7eb"/>` +
        `<text x="34" y="${y(f * top) + 4}" text-anchor="end">${(f * top).toFixed(2)}</text>`,
    )
    .join("");
  const ticks = Array.from({ length: epochs + 1 }, (_, e) =>
    e === 0
      ? ""
      : `<line x1="${x(e)}" x2="${x(e)}" y1="${y(top)}" y2="${h - 20}" stroke="#e5e7eb"/>` +
        `<text x="${x(e)}" y="${h - 5}" text-anchor="middle">epoch ${e}</text>`,
  ).join("");
  $("train-curve").innerHTML =
    `<g font-size="11" fill="#4b5563">${grid}${ticks}</g>` +
    `<polyline fill="none" stroke="#1e3a8a" stroke-width="2" points="${line}"/>`;
  $("train-curve-note").textContent =
    `training loss (cross-entropy) of the last few steps: ${points.at(-1)?.[1].toFixed(3) ?? "-"}`;
}

$("train-start").addEventListener("click", async () => {
  const graph = latest().graph;
  if (!graph) return setStatus("fix the errors first");
  const ticket = shown;
  const mine = (text: string, fraction?: number): void => {
    if (ticket === shown) setStatus(text, fraction);
  };
  const button = $<HTMLButtonElement>("train-start");
  button.disabled = true;
  let trainer: GpuTrainer | undefined;
  try {
    const epochs = Math.max(
      1,
      Math.min(50, Math.round(Number($<HTMLInputElement>("train-epochs").value) || 1)),
    );
    const config = trainConfig();
    const { lr } = config;
    const tg = trainingGraph(graph);
    mine("loading the Fashion-MNIST sample…", 0);
    const { train, test } = await fashionSample();
    const input = tg.graph.inputs[0]!;
    const items = fitInput(train, input.shape, "the sample");
    const testItems = fitInput(test, input.shape, "the sample");
    const { device, adapterName } = await browserDevice();
    $("adapter").textContent = adapterName;
    const plan = trainingPlan(tg, {
      optimizer: config,
      target: adapterClass(device.adapterInfo),
    });
    trainer = await GpuTrainer.create(plan, startWeights(tg.graph), config, device);
    const points: [number, number][] = [];
    let epoch = 0;
    // the loss of the steps since the last report, from the epoch's running mean
    let before = { done: 0, loss: 0 };
    const t0 = performance.now();
    const reports = await trainLoop(
      trainer,
      items,
      testItems,
      { lr, epochs, batch: 32, seed: 1, schedule: { kind: "constant" }, reportEvery: 4 },
      {
        onBatch: (done, total, mean) => {
          if (done < before.done) before = { done: 0, loss: 0 };
          const loss = (mean * done - before.loss * before.done) / (done - before.done);
          before = { done, loss: mean };
          points.push([epoch + done / total, loss]);
          drawCurve(points, epochs);
          mine(
            `training: epoch ${epoch + 1} of ${epochs}, loss ${loss.toFixed(3)}`,
            (epoch + done / total) / epochs,
          );
        },
        onEpoch: (r) => {
          epoch = r.epoch;
          $("train-result").textContent =
            `epoch ${r.epoch}: loss ${r.loss.toFixed(4)}, training accuracy ${(r.accuracy * 100).toFixed(1)}%, test accuracy ${((r.valAccuracy ?? 0) * 100).toFixed(1)}%, ${Math.round(r.imagesPerSecond)} images/s`;
        },
      },
    );
    const trained = await trainer.weights();
    const shapes = new Map(tg.graph.weights.map((w) => [w.name, w.shape]));
    weights = {
      name: "trained in the page",
      tensors: new Map([...trained].map(([k, data]) => [k, { shape: shapes.get(k)!, data }])),
    };
    const last = reports.at(-1)!;
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    mine(
      `trained ${graph.name} for ${epochs} epoch${epochs > 1 ? "s" : ""} in ${seconds} s on ${adapterName}: test accuracy ${((last.valAccuracy ?? 0) * 100).toFixed(1)}% (${testItems.count} images); Run uses these weights`,
    );
  } catch (e) {
    mine(`training: ${(e as Error).message}`);
  } finally {
    trainer?.dispose();
    button.disabled = false;
  }
});

// ---- start ---------------------------------------------------------------------------------

async function describeAdapter(): Promise<void> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  const adapter = await gpu?.requestAdapter().catch(() => null);
  $("adapter").textContent = adapter
    ? `WebGPU: ${adapterDescription(adapter.info) || "an adapter that does not describe itself"}`
    : "no WebGPU in this browser: Run needs it";
}

void describeAdapter();
void sharedSource().then((text) => {
  show(text ?? examples["LeNet-5"]!, text ? "from a share link" : undefined);
  if (text) picker.value = "";
});
