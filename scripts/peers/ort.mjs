// ONNX Runtime as a peer: onnxruntime-node (CPU) in this process, ONNX Runtime Web (WebGPU EP)
// in a child process. For scripts/bench.mjs and scripts/bench-interference.mjs.
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const ortNode = createRequire(import.meta.url)("onnxruntime-node");

/**
 * An onnxruntime-node CPU session for an ONNX model of one input and one output: { run(x,
 * batch) -> Promise of the output's Float32Array, dispose() }. ORT optimises the model itself
 * (BN folding, fusions).
 */
export async function ortNodeModel(onnx, input, out) {
  const session = await ortNode.InferenceSession.create(onnx, {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    // ORT's thread pool spins after each run, taking the cores llvmpipe's threads need for
    // whichever runtime takes the next turn: no spinning.
    extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
  });
  return {
    run: async (x, batch) => {
      const feeds = { [input.name]: new ortNode.Tensor("float32", x, [batch, ...input.shape]) };
      return (await session.run(feeds))[out.name].data;
    },
    dispose: () => session.release?.(),
  };
}

/**
 * ORT-web times `runs` runs of an ONNX model after a warm-up, in a child process
 * (ort-web-child.mjs says why): { firstMs, times, output }.
 */
export async function ortWebInChild(onnx, x, input, out, batch, runs) {
  const dir = mkdtempSync(join(tmpdir(), "cnnc-bench-"));
  try {
    const file = (name, bytes) => (writeFileSync(join(dir, name), bytes), join(dir, name));
    const job = {
      model: file("model.onnx", onnx),
      input: file("x.bin", new Uint8Array(x.buffer, x.byteOffset, x.byteLength)),
      output: join(dir, "y.bin"),
      inputName: input.name,
      outputName: out.name,
      shape: [batch, ...input.shape],
      runs,
    };
    const { stdout } = await execFileAsync(
      process.execPath,
      [
        fileURLToPath(new URL("./ort-web-child.mjs", import.meta.url)),
        file("job.json", JSON.stringify(job)),
      ],
      { maxBuffer: 1 << 26 },
    );
    const line = stdout.trim().split("\n").at(-1);
    const { firstMs, times } = JSON.parse(line);
    const y = readFileSync(job.output); // (a small file's Buffer is a view into a shared pool)
    return { firstMs, times, output: new Float32Array(y.buffer, y.byteOffset, y.byteLength / 4) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
