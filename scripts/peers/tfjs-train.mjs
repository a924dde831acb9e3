// TensorFlow.js training as a peer: the same network (a cnnc training graph), the same initial
// weights, trained with tfjs-core's ops, autodiff (`optimizer.minimize`) and its Adam or SGD on
// its WebGPU backend, NHWC (tfjs's layout). Batch norm trains as tf.moments over N, H, W then
// tf.batchNorm, its running statistics updated outside the tape as PyTorch does (momentum 0.1,
// unbiased variance). Dev-only (scripts/), never a runtime dependency.

/** tfjs's padding for a conv's or pool's pads, where it has one. */
function padding(p, k, s, inH, inW) {
  const [t, l, b, r] = p;
  if (t + l + b + r === 0) return "valid";
  const same = (size, kk, ss, lo, hi) => {
    const out = Math.ceil(size / ss);
    const total = Math.max(0, (out - 1) * ss + kk - size);
    return lo === Math.floor(total / 2) && hi === total - Math.floor(total / 2);
  };
  if (same(inH, k[0], s[0], t, b) && same(inW, k[1], s[1], l, r)) return "same";
  if (t === l && l === b && b === r)
    return [
      [0, 0],
      [t, b],
      [l, r],
      [0, 0],
    ];
  throw new Error(`tfjs peer: pads [${p}] have no tfjs form`);
}

/**
 * A trainer on tfjs: `step(x, labels)` (x NCHW as cnnc takes it, transposed here) and
 * `predict(x)`; weights from cnnc's layout ([F, C, KH, KW] -> [KH, KW, C/g, F]; a dense after a
 * flatten of a map has its rows reordered from C, H, W to H, W, C).
 */
export function tfjsTrainer(tf, graph, weights, { kind, lr }) {
  const shapes = new Map(graph.inputs.map((i) => [i.name, i.shape]));
  for (const n of graph.nodes) shapes.set(n.name, n.shape);
  const vars = new Map();
  const stats = new Map();
  const variable = (name, t) => vars.set(name, tf.variable(t, true, name));
  const flatSource = new Map(); // flatten node -> the map shape it flattens
  for (const n of graph.nodes) {
    if (n.op === "flatten") flatSource.set(n.name, shapes.get(n.inputs[0]));
    if (n.op === "conv2d") {
      const [f, cg, kh, kw] = [
        n.attrs.filters,
        shapes.get(n.inputs[0])[0] / n.attrs.g,
        ...n.attrs.k,
      ];
      if (n.attrs.g !== 1) throw new Error("tfjs peer: grouped convs are not in this peer");
      const w = tf.transpose(tf.tensor4d(weights.get(n.weights[0]), [f, cg, kh, kw]), [2, 3, 1, 0]);
      variable(n.weights[0], w);
      if (n.weights[1]) variable(n.weights[1], tf.tensor1d(weights.get(n.weights[1])));
    } else if (n.op === "dense") {
      const inputs = shapes.get(n.inputs[0])[0];
      let w = tf.tensor2d(weights.get(n.weights[0]), [n.attrs.units, inputs]);
      const src = flatSource.get(n.inputs[0]);
      if (src && src.length === 3) {
        const [c, h, wd] = src;
        w = tf.reshape(tf.transpose(tf.reshape(w, [n.attrs.units, c, h, wd]), [0, 2, 3, 1]), [
          n.attrs.units,
          inputs,
        ]);
      }
      variable(n.weights[0], tf.transpose(w));
      if (n.weights[1]) variable(n.weights[1], tf.tensor1d(weights.get(n.weights[1])));
    } else if (n.op === "batchnorm") {
      variable(n.weights[0], tf.tensor1d(weights.get(n.weights[0])));
      variable(n.weights[1], tf.tensor1d(weights.get(n.weights[1])));
      stats.set(n.name, {
        mean: tf.variable(tf.tensor1d(weights.get(n.weights[2])), false),
        variance: tf.variable(tf.tensor1d(weights.get(n.weights[3])), false),
      });
    }
  }
  const optimizer = kind === "adam" ? tf.train.adam(lr) : tf.train.momentum(lr, 0.9);
  const logitsOf = (last) => (last.op === "softmax" ? last.inputs[0] : last.name);
  const logitsName = logitsOf(graph.nodes.at(-1));

  function forward(x, training, updates) {
    const v = new Map([[graph.inputs[0].name, x]]);
    for (const n of graph.nodes) {
      const a = n.attrs;
      const inp = v.get(n.inputs[0]);
      let y;
      switch (n.op) {
        case "conv2d": {
          const [, h, w] = shapes.get(n.inputs[0]);
          y = tf.conv2d(
            inp,
            vars.get(n.weights[0]),
            a.s,
            padding(a.p, a.k, a.s, h, w),
            "NHWC",
            a.d,
          );
          if (n.weights[1]) y = tf.add(y, vars.get(n.weights[1]));
          break;
        }
        case "dense":
          y = tf.matMul(inp, vars.get(n.weights[0]));
          if (n.weights[1]) y = tf.add(y, vars.get(n.weights[1]));
          break;
        case "batchnorm": {
          const axes = inp.rank === 4 ? [0, 1, 2] : [0];
          const s = stats.get(n.name);
          let mean = s.mean;
          let variance = s.variance;
          if (training) {
            ({ mean, variance } = tf.moments(inp, axes));
            const m = inp.size / inp.shape.at(-1);
            // kept past the step's tidy: the running statistics take them after it
            updates.push([s, tf.keep(mean), tf.keep(variance), m]);
          }
          y = tf.batchNorm(
            inp,
            mean,
            variance,
            vars.get(n.weights[1]),
            vars.get(n.weights[0]),
            a.eps,
          );
          break;
        }
        case "relu":
          y = tf.relu(inp);
          break;
        case "tanh":
          y = tf.tanh(inp);
          break;
        case "sigmoid":
          y = tf.sigmoid(inp);
          break;
        case "maxpool2d":
        case "avgpool2d": {
          const [, h, w] = shapes.get(n.inputs[0]);
          const pad = padding(a.p, a.k, a.s, h, w);
          y =
            n.op === "maxpool2d" ? tf.maxPool(inp, a.k, a.s, pad) : tf.avgPool(inp, a.k, a.s, pad);
          break;
        }
        case "globalavgpool":
          y = tf.mean(inp, [1, 2], true);
          break;
        case "flatten":
          y = tf.reshape(inp, [inp.shape[0], -1]);
          break;
        case "add":
          y = n.inputs.map((i) => v.get(i)).reduce((p, q) => tf.add(p, q));
          break;
        case "dropout":
          y = training ? tf.dropout(inp, a.p) : inp;
          break;
        case "softmax":
          y = inp; // the loss takes the logits
          break;
        default:
          throw new Error(`tfjs peer: '${n.op}' is not in this peer`);
      }
      v.set(n.name, y);
    }
    return v.get(logitsName);
  }

  const nhwc = (x, batch) => {
    const [c, h, w] = graph.inputs[0].shape;
    return tf.transpose(tf.tensor4d(x, [batch, c, h, w]), [0, 2, 3, 1]);
  };
  const classes = shapes.get(logitsName).reduce((p, q) => p * q, 1);
  let running;
  let items = 0;

  return {
    /**
     * One step; the batch's loss is added to a running sum on the GPU (no readback: the steps
     * queue as cnnc's do), read by `takeLoss`.
     */
    step(x, labels) {
      const batch = labels.length;
      const updates = [];
      const loss = tf.tidy(() => {
        const input = nhwc(x, batch);
        const onehot = tf.oneHot(tf.tensor1d(Int32Array.from(labels), "int32"), classes);
        return optimizer.minimize(
          () =>
            tf.losses.softmaxCrossEntropy(
              onehot,
              tf.reshape(forward(input, true, updates), [batch, classes]),
            ),
          true,
          [...vars.values()],
        );
      });
      tf.tidy(() => {
        for (const [s, mean, variance, m] of updates) {
          s.mean.assign(tf.add(tf.mul(s.mean, 0.9), tf.mul(mean, 0.1)));
          s.variance.assign(
            tf.add(tf.mul(s.variance, 0.9), tf.mul(variance, 0.1 * (m / Math.max(m - 1, 1)))),
          );
        }
      });
      const sum = tf.tidy(() => tf.add(running ?? tf.scalar(0), tf.mul(loss, batch)));
      running?.dispose();
      running = sum;
      items += batch;
      loss.dispose();
      for (const [, mean, variance] of updates) {
        mean.dispose();
        variance.dispose();
      }
    },
    /** The mean loss of the steps since the last call (waits for them). */
    async takeLoss() {
      const value = running ? (await running.data())[0] / items : 0;
      running?.dispose();
      running = undefined;
      items = 0;
      return value;
    },
    async predict(x, batch) {
      const out = tf.tidy(() => tf.reshape(forward(nhwc(x, batch), false, []), [batch, classes]));
      const data = await out.data();
      out.dispose();
      return data;
    },
    dispose() {
      for (const t of vars.values()) t.dispose();
      for (const s of stats.values()) {
        s.mean.dispose();
        s.variance.dispose();
      }
      optimizer.dispose();
    },
  };
}
