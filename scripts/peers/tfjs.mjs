// TensorFlow.js as a peer: the same network, the same weights, run with tfjs ops on its WebGPU
// backend. It gets the graph after cnnc's -O2 passes, which is what the TensorFlow.js
// converter gives a tfjs user: batch norm folded into conv weights, activations and bias in
// `tf.fused` ops. Layout is NHWC, tfjs's native one (the input is transposed once, outside the
// timed run's arithmetic but inside its upload). Dev-only (scripts/), never a runtime dependency.

/** Where `same` padding (TensorFlow's rule) gives exactly these pads. */
function tfSame(k, s, d, size, p) {
  const eff = (k - 1) * d + 1;
  const out = Math.ceil(size / s);
  const total = Math.max(0, (out - 1) * s + eff - size);
  return p[0] === Math.floor(total / 2) && p[1] === total - Math.floor(total / 2);
}

/** tfjs's `pad` argument for [top, left, bottom, right] pads, or undefined if it has none. */
function padArg(attrs, h, w) {
  const [t, l, b, r] = attrs.p;
  if (t === 0 && l === 0 && b === 0 && r === 0) return "valid";
  const d = attrs.d ?? [1, 1];
  if (
    tfSame(attrs.k[0], attrs.s[0], d[0], h, [t, b]) &&
    tfSame(attrs.k[1], attrs.s[1], d[1], w, [l, r])
  )
    return "same";
  if (t === l && l === b && b === r) return t;
  return undefined;
}

const activation = {
  none: "linear",
  relu: "relu",
  relu6: "relu6",
  sigmoid: "sigmoid",
  leaky_relu: "leakyrelu",
};

function act(tf, x, a, alpha) {
  switch (a) {
    case "none":
      return x;
    case "relu":
      return tf.relu(x);
    case "relu6":
      return tf.relu6(x);
    case "sigmoid":
      return tf.sigmoid(x);
    case "tanh":
      return tf.tanh(x);
    case "leaky_relu":
      return tf.leakyRelu(x, alpha);
    default:
      throw new Error(`tfjs peer: activation ${a} not mapped`);
  }
}

/**
 * Builds a tfjs executor for an IR graph with constants. Returns { run(x, batch) -> Promise of
 * Float32Array (NCHW output, read back), dispose() }.
 */
export function tfjsModel(tf, graph) {
  const c = graph.constants;
  const tensors = [];
  const keep = (t) => (tensors.push(t), t);
  const shapes = new Map([...graph.inputs, ...graph.nodes].map((v) => [v.name, v.shape]));
  const prepared = new Map(); // node name -> weights in tfjs layout
  for (const n of graph.nodes) {
    if (n.op === "conv2d") {
      const [cout, cin, kh, kw] = graph.weights.find((w) => w.name === n.weights[0]).shape;
      const w = c.get(n.weights[0]);
      const groups = n.attrs.g;
      const bias = n.weights[1] ? keep(tf.tensor1d(c.get(n.weights[1]))) : undefined;
      if (groups === 1) {
        const hwio = new Float32Array(w.length);
        for (let o = 0; o < cout; o++)
          for (let i = 0; i < cin; i++)
            for (let y = 0; y < kh; y++)
              for (let x = 0; x < kw; x++)
                hwio[((y * kw + x) * cin + i) * cout + o] = w[((o * cin + i) * kh + y) * kw + x];
        prepared.set(n.name, {
          filter: keep(tf.tensor4d(hwio, [kh, kw, cin, cout])),
          bias,
          depthwise: false,
        });
      } else if (cin === 1 && groups === shapes.get(n.inputs[0])[0]) {
        const mult = cout / groups;
        const hwcm = new Float32Array(w.length);
        for (let ch = 0; ch < groups; ch++)
          for (let m = 0; m < mult; m++)
            for (let y = 0; y < kh; y++)
              for (let x = 0; x < kw; x++)
                hwcm[((y * kw + x) * groups + ch) * mult + m] =
                  w[((ch * mult + m) * kh + y) * kw + x];
        prepared.set(n.name, {
          filter: keep(tf.tensor4d(hwcm, [kh, kw, groups, mult])),
          bias,
          depthwise: true,
        });
      } else throw new Error(`tfjs peer: grouped conv ${n.name} not mapped`);
    } else if (n.op === "dense") {
      const [units, inputs] = graph.weights.find((w) => w.name === n.weights[0]).shape;
      const bias = n.weights[1] ? keep(tf.tensor1d(c.get(n.weights[1]))) : undefined;
      prepared.set(n.name, {
        filter: keep(tf.tensor2d(c.get(n.weights[0]), [units, inputs])),
        bias,
      });
    } else if (n.op === "batchnorm") {
      const [g, b, m, v] = n.weights.map((w) => keep(tf.tensor1d(c.get(w))));
      prepared.set(n.name, { g, b, m, v });
    }
  }

  function forward(x) {
    const values = new Map([[graph.inputs[0].name, x]]);
    for (const n of graph.nodes) {
      const a = n.attrs;
      const [inName] = n.inputs;
      const input = values.get(inName);
      const [, h, w] = shapes.get(inName);
      let y;
      switch (n.op) {
        case "conv2d": {
          const p = prepared.get(n.name);
          let src = input;
          let pad = padArg(a, h, w);
          if (pad === undefined) {
            src = tf.pad(input, [
              [0, 0],
              [a.p[0], a.p[2]],
              [a.p[1], a.p[3]],
              [0, 0],
            ]);
            pad = "valid";
          }
          const residual = n.inputs[1] ? values.get(n.inputs[1]) : undefined;
          // tfjs fuses relu, relu6, sigmoid, leaky relu; others (tanh) run after the conv.
          const fusedAct = (!residual && activation[a.act]) || "linear";
          const args = {
            x: src,
            filter: p.filter,
            strides: a.s,
            pad,
            dilations: a.d,
            bias: p.bias,
            activation: fusedAct,
            leakyreluAlpha: a.alpha,
          };
          y = p.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
          if (residual) y = act(tf, tf.add(y, residual), a.act, a.alpha);
          else if (fusedAct === "linear") y = act(tf, y, a.act, a.alpha);
          break;
        }
        case "dense": {
          const p = prepared.get(n.name);
          const fusedAct = (!n.inputs[1] && activation[a.act]) || "linear";
          y = tf.fused.matMul({
            a: input,
            b: p.filter,
            transposeB: true,
            bias: p.bias,
            activation: fusedAct,
          });
          if (n.inputs[1]) y = tf.add(y, values.get(n.inputs[1]));
          if (fusedAct === "linear") y = act(tf, y, a.act, a.alpha);
          break;
        }
        case "batchnorm": {
          const p = prepared.get(n.name);
          y = act(tf, tf.batchNorm(input, p.m, p.v, p.b, p.g, a.eps), a.act ?? "none", a.alpha);
          break;
        }
        case "maxpool2d":
        case "avgpool2d": {
          let pad = padArg(a, h, w);
          let src = input;
          if (pad === undefined || (n.op === "avgpool2d" && pad !== "valid")) {
            if (n.op === "avgpool2d") throw new Error("tfjs peer: padded avgpool not mapped");
            src = tf.pad(
              input,
              [
                [0, 0],
                [a.p[0], a.p[2]],
                [a.p[1], a.p[3]],
                [0, 0],
              ],
              -3.4e38,
            );
            pad = "valid";
          }
          if (a.ceil && n.op === "maxpool2d") {
            // Ceil mode: pad explicitly, then pad the bottom and right with -inf until valid
            // pooling gives the output size.
            if (pad !== "valid") {
              src = tf.pad(
                src,
                [
                  [0, 0],
                  [a.p[0], a.p[2]],
                  [a.p[1], a.p[3]],
                  [0, 0],
                ],
                -3.4e38,
              );
              pad = "valid";
            }
            const [, ho, wo] = n.shape;
            const bottom = Math.max(0, (ho - 1) * a.s[0] + a.k[0] - src.shape[1]);
            const right = Math.max(0, (wo - 1) * a.s[1] + a.k[1] - src.shape[2]);
            src = tf.pad(
              src,
              [
                [0, 0],
                [0, bottom],
                [0, right],
                [0, 0],
              ],
              -3.4e38,
            );
          } else if (a.ceil) throw new Error("tfjs peer: ceil-mode avgpool not mapped");
          y =
            n.op === "maxpool2d" ? tf.maxPool(src, a.k, a.s, pad) : tf.avgPool(src, a.k, a.s, pad);
          y = act(tf, y, a.act ?? "none", a.alpha);
          break;
        }
        case "globalavgpool":
          y = act(tf, tf.mean(input, [1, 2], true), a.act ?? "none", a.alpha);
          break;
        case "globalmaxpool":
          y = act(tf, tf.max(input, [1, 2], true), a.act ?? "none", a.alpha);
          break;
        case "flatten": {
          // NCHW order, as the dense weights expect it.
          const nchw = input.rank === 4 ? tf.transpose(input, [0, 3, 1, 2]) : input;
          y = tf.reshape(nchw, [input.shape[0], -1]);
          break;
        }
        case "concat":
          y = tf.concat(
            n.inputs.map((v) => values.get(v)),
            3,
          );
          break;
        case "add":
          y = act(
            tf,
            n.inputs.map((v) => values.get(v)).reduce((s, t) => tf.add(s, t)),
            a.act ?? "none",
            a.alpha,
          );
          break;
        case "softmax":
          y = tf.softmax(input, -1);
          break;
        case "lrn": {
          // PyTorch's alpha is per window element; tfjs's is not, and its radius is half the size.
          y = tf.localResponseNormalization(input, (a.size - 1) / 2, a.k, a.alpha / a.size, a.beta);
          break;
        }
        case "relu":
        case "relu6":
        case "sigmoid":
        case "tanh":
          y = act(tf, input, n.op, 0);
          break;
        default:
          throw new Error(`tfjs peer: op ${n.op} not mapped`);
      }
      values.set(n.name, y);
    }
    return values.get(graph.outputs[0].value);
  }

  const [c0, h0, w0] = graph.inputs[0].shape;
  const out = graph.nodes.find((n) => n.name === graph.outputs[0].value).shape;
  return {
    async run(x, batch) {
      const y = tf.tidy(() => {
        const t =
          h0 === undefined
            ? forward(tf.tensor2d(x, [batch, c0]))
            : forward(tf.transpose(tf.tensor4d(x, [batch, c0, h0, w0]), [0, 2, 3, 1]));
        return t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : t;
      });
      const data = await y.data();
      y.dispose();
      if (data.length !== batch * out.reduce((a, b) => a * b, 1))
        throw new Error("tfjs peer: output size");
      return data;
    },
    dispose() {
      for (const t of tensors) t.dispose();
    },
  };
}
