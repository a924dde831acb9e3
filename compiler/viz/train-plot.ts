// The curves of a training run as an SVG: loss per epoch on the left, accuracy (training and
// validation) on the right, each with its axis labelled in its own units.
import type { EpochReport } from "../train/trainer.js";

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

interface Series {
  readonly label: string;
  readonly colour: string;
  readonly values: readonly number[];
}

function panel(
  x0: number,
  title: string,
  series: readonly Series[],
  epochs: readonly number[],
  range: readonly [number, number],
  step: number,
  format: (v: number) => string,
): string {
  const [w, h, top, left] = [360, 240, 60, 50];
  const [lo, hi] = range;
  const px = (i: number) =>
    x0 +
    left +
    (epochs.length > 1 ? (i / (epochs.length - 1)) * (w - left - 20) : (w - left - 20) / 2);
  const py = (v: number) => top + (1 - (v - lo) / (hi - lo || 1)) * (h - top - 30);
  const out: string[] = [
    `<text x="${x0 + w / 2}" y="20" text-anchor="middle" font-weight="bold">${escape(title)}</text>`,
  ];
  for (let k = 0; lo + k * step <= hi + 1e-9; k++) {
    const v = lo + k * step;
    const y = py(v).toFixed(1);
    out.push(
      `<line x1="${x0 + left}" x2="${x0 + w - 20}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${x0 + left - 6}" y="${(py(v) + 4).toFixed(1)}" text-anchor="end">${format(v)}</text>`,
    );
  }
  epochs.forEach((e, i) =>
    out.push(`<text x="${px(i)}" y="${h - 12}" text-anchor="middle">${e}</text>`),
  );
  out.push(`<text x="${x0 + w / 2}" y="${h + 6}" text-anchor="middle">epoch</text>`);
  series.forEach((s, k) => {
    const points = s.values.map((v, i) => `${px(i).toFixed(1)},${py(v).toFixed(1)}`);
    out.push(
      `<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${points.join(" ")}"/>`,
      ...s.values.map(
        (v, i) =>
          `<circle cx="${px(i).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${s.colour}"/>`,
      ),
      // the legend above the plot, one entry after another
      `<rect x="${x0 + left + 100 * k}" y="33" width="12" height="3" fill="${s.colour}"/>`,
      `<text x="${x0 + left + 18 + 100 * k}" y="39">${escape(s.label)}</text>`,
    );
  });
  return out.join("\n");
}

/** A round tick step that gives at most five intervals up to `max`. */
function tickStep(max: number): number {
  for (const s of [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10]) if (max / s <= 5) return s;
  return Math.ceil(max / 5);
}

export function trainingPlot(reports: readonly EpochReport[], title: string): string {
  const epochs = reports.map((r) => r.epoch);
  const losses = reports.map((r) => r.loss);
  const step = tickStep(Math.max(...losses, 0.1));
  const maxLoss = Math.ceil(Math.max(...losses, 0.1) / step) * step;
  const accuracy: Series[] = [
    { label: "training", colour: "#1f77b4", values: reports.map((r) => r.accuracy) },
  ];
  if (reports.every((r) => r.valAccuracy !== undefined))
    accuracy.push({
      label: "validation",
      colour: "#d62728",
      values: reports.map((r) => r.valAccuracy!),
    });
  const all = accuracy.flatMap((s) => s.values);
  const lo = Math.max(0, Math.floor(Math.min(...all) * 10) / 10);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="740" height="270" font-family="sans-serif" font-size="12">
<title>${escape(title)}</title>
<rect width="740" height="270" fill="white"/>
${panel(0, "loss (training, cross-entropy)", [{ label: "training", colour: "#1f77b4", values: losses }], epochs, [0, maxLoss], step, (v) => v.toFixed(2))}
${panel(370, "accuracy", accuracy, epochs, [lo, 1], 0.1, (v) => `${Math.round(v * 100)}%`)}
</svg>
`;
}
