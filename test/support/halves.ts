// A task any trainer must learn: 6x6 images of two classes, the upper or the lower half bright,
// with noise; and a small network for it (a conv with batch norm, pooling, dropout, a dense).
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeNpy } from "../../cli/npy.js";
import { random } from "../../compiler/weights/init.js";

export function halves(n: number, seed: number): { x: Float32Array; y: Float32Array } {
  const rand = random(seed);
  const x = new Float32Array(n * 36);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    y[i] = label;
    for (let p = 0; p < 36; p++)
      x[i * 36 + p] = (p < 18 === (label === 0) ? 0.8 : 0.2) + 0.3 * (rand() - 0.5);
  }
  return { x, y };
}

export const halvesNet = `network Halves {
  input x: [1, 6, 6]
  conv(4, 3, pad=1) -> bn -> relu
  maxpool(2)
  flatten
  dropout(0.1)
  dense(2)
  softmax
}
`;

/**
 * A scratch folder for the CLI: `data/` with 120 training items (`x.npy`, `y.npy`) and 40 test
 * items (`x_test.npy`, `y_test.npy`), and the network as `halves.cnn`.
 */
export function halvesFolder(prefix: string): {
  dir: string;
  data: string;
  netFile: string;
  test: { x: Float32Array; y: Float32Array };
} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const data = join(dir, "data");
  mkdirSync(data);
  const train = halves(120, 3);
  const test = halves(40, 4);
  writeFileSync(join(data, "x.npy"), writeNpy([120, 6, 6], train.x));
  writeFileSync(join(data, "y.npy"), writeNpy([120], train.y));
  writeFileSync(join(data, "x_test.npy"), writeNpy([40, 6, 6], test.x));
  writeFileSync(join(data, "y_test.npy"), writeNpy([40], test.y));
  const netFile = join(dir, "halves.cnn");
  writeFileSync(netFile, halvesNet);
  return { dir, data, netFile, test };
}
