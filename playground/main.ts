// The playground: write a .cnn network and see, as you type, its diagnostics (the compiler runs
// in the page), its per-layer summary, a picture of its graph, the receptive field of any layer
// on the input grid; then compile it to WGSL and run it on this browser's WebGPU.
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { syntaxHighlighting } from "@codemirror/language";
import { linter, lintGutter, type Diagnostic as EditorDiagnostic } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import { EditorView, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";
import { bytes, grouped, summarize, type NetworkReport } from "../compiler/analysis/index.js";
import { compileGraph } from "../compiler/compile.js";
import type { Graph } from "../compiler/ir/index.js";
import { compileFrontend, memoryHost } from "../compiler/lower/index.js";
import { graphSvg, maxDrawnLayers } from "../compiler/viz/index.js";
import { random } from "../compiler/weights/index.js";
import { formatDiagnostic } from "../grammar/index.js";
import { loadModel } from "../runtime/browser.js";
import { cnnHighlight, cnnLanguage } from "./language.js";
import alexnet from "../examples/alexnet.cnn";
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
};

const file = "main.cnn";
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

interface Compiled {
  readonly graph?: Graph;
  readonly report?: NetworkReport;
  readonly problems: string;
  readonly diagnostics: EditorDiagnostic[];
}

function compile(text: string): Compiled {
  const result = compileFrontend(file, memoryHost({ [file]: text }));
  const sources = new Map([[file, text]]);
  const diagnostics = result.diagnostics.map((d) => ({
    from: Math.min(d.range.start.offset, text.length),
    to: Math.min(Math.max(d.range.end.offset, d.range.start.offset + 1), text.length),
    severity: d.severity,
    message: `${d.range.start.line}:${d.range.start.column}: ${d.message}`,
  }));
  const problems = result.diagnostics.map((d) => formatDiagnostic(d, sources)).join("\n\n");
  if (!result.graph) return { problems, diagnostics };
  return { graph: result.graph, report: summarize(result.graph), problems, diagnostics };
}

let current: Compiled = { problems: "", diagnostics: [] };
let selected: string | undefined;

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function renderSummary(report: NetworkReport): void {
  const rows = report.layers
    .map(
      (l) =>
        `<tr data-name="${escape(l.name)}"${l.name === selected ? ' class="selected"' : ""}><td>${escape(l.name)}</td><td>${escape(l.op)}</td><td>${l.output.join("x")}</td><td>${grouped(l.params)}</td><td>${grouped(l.macs)}</td><td>${l.global ? "global" : `${l.rf[0]}x${l.rf[1]}`}</td><td>${bytes(l.activationBytes)}</td></tr>`,
    )
    .join("");
  const t = report.totals;
  $("summary").innerHTML =
    `<table><thead><tr><th>layer</th><th>op</th><th>output</th><th>params</th><th>MACs</th><th>RF</th><th>activations</th></tr></thead><tbody>${rows}</tbody>
<tfoot><tr><td>total</td><td></td><td></td><td id="total-params">${grouped(t.params)}</td><td id="total-macs">${grouped(t.macs)}</td><td>${t.rf ? `${t.rf[0]}x${t.rf[1]}` : ""}</td><td>${bytes(t.activationBytes)}</td></tr></tfoot></table>`;
}

function renderField(report: NetworkReport): void {
  const layer = report.layers.find((l) => l.name === selected) ?? report.layers.at(-1);
  const input = report.inputs[0];
  if (!layer || !input || input.shape.length !== 3) {
    $("field").innerHTML = "";
    return;
  }
  const [, h, w] = input.shape as [number, number, number];
  const scale = Math.min(240 / h, 240 / w);
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
  $("field").innerHTML =
    `<p><b>${escape(layer.name)}</b>: each output sees ${layer.global ? "the whole input" : `${layer.rf[0]}x${layer.rf[1]} input pixels`}; neighbouring outputs are ${layer.jump[0]}x${layer.jump[1]} pixels apart. Input ${h}x${w}${step > 1 ? `, grid every ${step} pixels` : ""}.</p>
<svg width="${w * scale}" height="${h * scale}"><g stroke="#e5e7eb">${lines.join("")}</g>
<rect x="${x0 * scale}" y="${y0 * scale}" width="${rw * scale}" height="${rh * scale}" fill="rgba(220,38,38,0.25)" stroke="#dc2626"/></svg>`;
}

function renderGraph(graph: Graph): void {
  if (graph.nodes.length > maxDrawnLayers) {
    $("graph").textContent =
      `${graph.nodes.length} layers: too many to draw (at most ${maxDrawnLayers}).`;
    return;
  }
  $("graph").innerHTML = graphSvg(graph, selected ? { highlight: new Set([selected]) } : {});
}

function render(): void {
  $("problems").textContent = current.problems;
  $("problems").hidden = current.problems === "";
  if (!current.graph || !current.report) return;
  renderSummary(current.report);
  renderGraph(current.graph);
  renderField(current.report);
}

function select(name: string | undefined): void {
  if (!name || !current.report?.layers.some((l) => l.name === name)) return;
  selected = name;
  render();
}

for (const id of ["graph", "summary"]) {
  $(id).addEventListener("click", (e) => {
    const el = (e.target as Element).closest("[data-name]");
    select(el?.getAttribute("data-name") ?? undefined);
  });
}

const editor = new EditorView({
  parent: $("editor"),
  state: EditorState.create({
    doc: examples["LeNet-5"]!,
    extensions: [
      lineNumbers(),
      history(),
      highlightActiveLine(),
      keymap.of([...defaultKeymap, ...historyKeymap]),
      cnnLanguage,
      syntaxHighlighting(cnnHighlight),
      lintGutter(),
      linter(
        (view) => {
          current = compile(view.state.doc.toString());
          render();
          return current.diagnostics;
        },
        { delay: 250 },
      ),
    ],
  }),
});

const picker = $<HTMLSelectElement>("examples");
for (const name of Object.keys(examples)) picker.add(new Option(name, name));
picker.addEventListener("change", () => {
  selected = undefined;
  editor.dispatch({
    changes: { from: 0, to: editor.state.doc.length, insert: examples[picker.value]! },
  });
});

/** The image in the file input, resized to the network's input and laid out NCHW in [0, 1]. */
async function imageInput(shape: readonly number[]): Promise<Float32Array | undefined> {
  const chosen = $<HTMLInputElement>("image").files?.[0];
  if (!chosen || shape.length !== 3) return undefined;
  const [c, h, w] = shape as [number, number, number];
  const bitmap = await createImageBitmap(chosen);
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext("2d")!;
  ctx.drawImage(bitmap, 0, 0, w, h);
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++)
    for (let p = 0; p < h * w; p++)
      out[ch * h * w + p] =
        c === 1
          ? (rgba[p * 4]! + rgba[p * 4 + 1]! + rgba[p * 4 + 2]!) / 765
          : rgba[p * 4 + Math.min(ch, 2)]! / 255;
  return out;
}

$("run").addEventListener("click", async () => {
  const status = $("status");
  const graph = current.graph;
  if (!graph) {
    status.textContent = "fix the errors first";
    return;
  }
  status.textContent = "compiling…";
  try {
    const t0 = performance.now();
    const { bundle, plan } = compileGraph(graph, { seed: 0 });
    const compileMs = performance.now() - t0;
    status.textContent = "loading on WebGPU…";
    const model = await loadModel(bundle!);
    const input = graph.inputs[0]!;
    const rand = random(1);
    const x =
      (await imageInput(input.shape)) ??
      Float32Array.from({ length: input.shape.reduce((a, b) => a * b, 1) }, () => rand());
    await model.run({ [input.name]: x });
    const t1 = performance.now();
    const out = await model.run({ [input.name]: x });
    const runMs = performance.now() - t1;
    model.dispose();
    const [name, values] = Object.entries(out)[0]!;
    const top = Array.from(values.data)
      .map((v, i) => [i, v] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([i, v]) => `${i}: ${v.toPrecision(4)}`)
      .join(", ");
    status.textContent = `${plan!.dispatches.length} dispatches, compiled in ${compileMs.toFixed(0)} ms; ran in ${runMs.toFixed(1)} ms on ${model.adapterName}. ${name}, top 5 (random weights): ${top}`;
  } catch (e) {
    status.textContent = `error: ${(e as Error).message}`;
  }
});
