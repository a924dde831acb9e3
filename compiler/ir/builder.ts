// Builds a graph node by node, inferring each node's shape and declaring its weights
// (`<node>.<role>`) from the op table as it goes. Used by lowering and by passes that add nodes.
import type {
  Graph,
  GraphInput,
  GraphOutput,
  IrNode,
  Node,
  Shape,
  SourceLoc,
  WeightDecl,
} from "./graph.js";
import { opDef, type OpAttrs, type OpKind } from "../ops/index.js";

export class GraphBuilder {
  private readonly inputs: GraphInput[] = [];
  private readonly weights: WeightDecl[] = [];
  private readonly nodes: Node[] = [];
  private readonly outputs: GraphOutput[] = [];
  private readonly shapes = new Map<string, Shape>();

  constructor(private readonly name: string) {}

  has(value: string): boolean {
    return this.shapes.has(value);
  }

  shapeOf(value: string): Shape {
    const shape = this.shapes.get(value);
    if (!shape) throw new Error(`internal: no value named '${value}'`);
    return shape;
  }

  input(name: string, shape: Shape): string {
    this.claim(name);
    this.inputs.push({ name, shape });
    this.shapes.set(name, shape);
    return name;
  }

  /** Adds a node; throws ShapeError (from the op's shape rule) when the inputs do not fit. */
  node<K extends OpKind>(
    op: K,
    name: string,
    inputs: readonly string[],
    given: OpAttrs[K],
    loc?: SourceLoc,
  ): IrNode<K> {
    const def = opDef(op);
    // Attributes left out take the op's defaults, as the IR reader fills them.
    const attrs = { ...def.defaults, ...given } as OpAttrs[K];
    const inputShapes = inputs.map((v) => this.shapeOf(v));
    const shape = def.infer(attrs, inputShapes);
    const specs = def.weights(attrs, inputShapes);
    this.claim(name);
    const weights = specs.map((w) => {
      const weightName = `${name}.${w.role}`;
      this.weights.push({ name: weightName, shape: w.shape });
      return weightName;
    });
    const node: IrNode<K> = { name, op, inputs, weights, attrs, shape, ...(loc ? { loc } : {}) };
    this.nodes.push(node as Node);
    this.shapes.set(name, shape);
    return node;
  }

  /** The declared shape of a weight added by `node`. */
  weightShape(name: string): Shape {
    const w = this.weights.find((d) => d.name === name);
    if (!w) throw new Error(`internal: no weight named '${name}'`);
    return w.shape;
  }

  output(name: string, value: string, declared?: Shape): void {
    this.shapeOf(value);
    this.outputs.push(declared ? { name, value, declared } : { name, value });
  }

  build(): Graph {
    return {
      name: this.name,
      inputs: [...this.inputs],
      weights: [...this.weights],
      nodes: [...this.nodes],
      outputs: [...this.outputs],
    };
  }

  private claim(name: string): void {
    if (this.shapes.has(name)) throw new Error(`internal: value '${name}' defined twice`);
  }
}
