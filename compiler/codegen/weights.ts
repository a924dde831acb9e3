// The weights a plan binds: the graph's own (checked against the binding limit), and the forms
// derived from them that kernels read, each recorded with its source and transform so that the
// bundle stores the source once and the runtime makes the form at load (runtime/weights.ts):
// Winograd's U = G g G^T, the [F, KH, KW, C] permutation for a GEMM over NHWC, and row ranges
// of a weight too large for one binding.
import { elementCount, formatShape, type Graph } from "../ir/graph.js";
import { CompileError } from "../errors.js";
import type { PlanWeight } from "./plan-types.js";

export class CodegenError extends CompileError {}

export class PlanWeights {
  private readonly declared: ReadonlyMap<string, readonly number[]>;
  private readonly used = new Map<string, PlanWeight>();

  constructor(
    graph: Graph,
    private readonly maxBinding: number,
  ) {
    this.declared = new Map(graph.weights.map((w) => [w.name, w.shape]));
  }

  /** Every weight bound so far, in the order first bound. */
  list(): PlanWeight[] {
    return [...this.used.values()];
  }

  private fits(name: string, shape: readonly number[]): void {
    if (elementCount(shape) * 4 > this.maxBinding) {
      throw new CodegenError(
        `weight '${name}' ${formatShape(shape)} needs ${elementCount(shape) * 4} bytes, over the ${this.maxBinding}-byte storage binding limit`,
      );
    }
  }

  private shapeOf(name: string): readonly number[] {
    const shape = this.declared.get(name);
    if (!shape) throw new Error(`internal: no weight named '${name}'`);
    return shape;
  }

  /** A graph weight as it is. */
  use(name: string): string {
    const shape = this.shapeOf(name);
    this.fits(name, shape);
    if (!this.used.has(name)) this.used.set(name, { name, shape, source: name });
    return name;
  }

  private derive(
    name: string,
    suffix: string,
    shape: number[],
    transform: "hwc" | "winograd",
  ): string {
    const derived = `${name}#${suffix}`;
    this.fits(derived, shape);
    this.used.set(derived, {
      name: derived,
      shape,
      source: name,
      sourceShape: this.shapeOf(name),
      transform,
    });
    return derived;
  }

  /** A conv weight as [F, KH, KW, C], as the GEMM reads it over an NHWC input. */
  hwc(name: string): string {
    const [f, c, kh, kw] = this.shapeOf(name) as [number, number, number, number];
    if (kh === 1 && kw === 1) return this.use(name); // [F, C, 1, 1] is [F, 1, 1, C]
    return this.derive(name, "hwc", [f, kh, kw, c], "hwc");
  }

  /** The Winograd-transformed copy of a 3x3 conv weight, [16, F, C]. */
  winograd(name: string): string {
    const [f, c] = this.shapeOf(name) as [number, number];
    return this.derive(name, "winograd", [16, f, c], "winograd");
  }

  /** A weight cut into row ranges (output units) that each fit one storage binding. */
  splitRows(name: string, rows: number): { name: string; rows: readonly [number, number] }[] {
    const shape = this.shapeOf(name);
    const rowBytes = (elementCount(shape) / shape[0]!) * 4;
    const per = Math.max(1, Math.floor(this.maxBinding / rowBytes));
    const chunks: [number, number][] = [];
    for (let r = 0; r < rows; r += per) chunks.push([r, Math.min(rows, r + per)]);
    if (chunks.length === 1) return [{ name: this.use(name), rows: [0, rows] as const }];
    return chunks.map(([r0, r1]) => {
      const chunk = `${name}[${r0}:${r1}]`;
      this.used.set(chunk, {
        name: chunk,
        shape: [r1 - r0, ...shape.slice(1)],
        source: name,
        sourceShape: shape,
        rows: [r0, r1],
      });
      return { name: chunk, rows: [r0, r1] as const };
    });
  }
}
