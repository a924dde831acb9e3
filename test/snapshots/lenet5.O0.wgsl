// ---- kernel 0: c1, c3
struct Params { batch: u32, C: u32, H: u32, W: u32, F: u32, HO: u32, WO: u32, K: u32, NC: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
const KH: u32 = 5u;
const KW: u32 = 5u;
const SH: u32 = 1u;
const SW: u32 = 1u;
const DH: u32 = 1u;
const DW: u32 = 1u;
const PT: u32 = 0u;
const PL: u32 = 0u;
const N0: u32 = 0u;
var<workgroup> tileA: array<array<f32, 16>, 64>;
var<workgroup> tileB: array<array<f32, 64>, 16>;
fn loadA(m: u32, k: u32, rows: u32) -> f32 {
  if (m >= rows || k >= params.K) { return 0.0; }
  let b = m / (params.HO * params.WO);
  let p = m % (params.HO * params.WO);
  let ci = k / (KH * KW);
  let r = k % (KH * KW);
  let iy = i32((p / params.WO) * SH + (r / KW) * DH) - i32(PT);
  let ix = i32((p % params.WO) * SW + (r % KW) * DW) - i32(PL);
  if (iy < 0 || iy >= i32(params.H) || ix < 0 || ix >= i32(params.W)) { return 0.0; }
  return x[((b * params.C + ci) * params.H + u32(iy)) * params.W + u32(ix)];
}
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let rows = params.batch * params.HO * params.WO;
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
  let t = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < params.K; k0 += 16u) {
    for (var l = 0u; l < 4u; l++) {
      let e = t + l * 256u;
      if (e < 1024u) { tileA[e / 16u][e % 16u] = loadA(row0 + e / 16u, k0 + e % 16u, rows); }
    }
    for (var l = 0u; l < 4u; l++) {
      let e = t + l * 256u;
      let k = k0 + e / 64u;
      let n = col0 + e % 64u;
      var v = 0.0;
      if (e < 1024u && k < params.K && n < params.NC) { v = wt[n * params.K + k]; }
      if (e < 1024u) { tileB[e / 64u][e % 64u] = v; }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      var a: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = tileA[lid.y * 4u + i][kk]; }
      for (var j = 0u; j < 4u; j++) { bv[j] = tileB[kk][lid.x * 4u + j]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] += a[i] * bv[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = row0 + lid.y * 4u + i;
    if (m >= rows) { continue; }
    let b = m / (params.HO * params.WO);
    let p = m % (params.HO * params.WO);
    for (var j = 0u; j < 4u; j++) {
      let n = col0 + lid.x * 4u + j;
      if (n >= params.NC) { continue; }
      y[(b * params.F + N0 + n) * (params.HO * params.WO) + p] = (acc[i][j] + bias[N0 + n]);
    }
  }
}

// ---- kernel 1: tanh_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 4704u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let v = x[i];
  y[i] = tanh(clamp(v, -15.0, 15.0));
}

// ---- kernel 2: s2
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 1176u;
const C: u32 = 6u;
const H: u32 = 28u;
const W: u32 = 28u;
const HO: u32 = 14u;
const WO: u32 = 14u;
const KH: u32 = 2u;
const KW: u32 = 2u;
const SH: u32 = 2u;
const SW: u32 = 2u;
const PT: u32 = 0u;
const PL: u32 = 0u;
const PB: u32 = 0u;
const PR: u32 = 0u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let ox = i % WO;
  let oy = (i / WO) % HO;
  let ch = (i / (WO * HO)) % C;
  let n = i / ((WO * HO) * C);
  let y0 = i32(oy * SH) - i32(PT);
  let x0 = i32(ox * SW) - i32(PL);
  let y1 = min(y0 + i32(KH), i32(H + PB));
  let x1 = min(x0 + i32(KW), i32(W + PR));
  var acc = 0.0;
  var count = 0.0;
  for (var iy = max(y0, 0); iy < min(y1, i32(H)); iy++) {
    for (var ix = max(x0, 0); ix < min(x1, i32(W)); ix++) {
      let v = x[((n * C + ch) * H + u32(iy)) * W + u32(ix)];
      acc += v;
      count += 1.0;
    }
  }
  y[i] = (acc / count);
}

// ---- kernel 3: tanh_2
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 1600u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let v = x[i];
  y[i] = tanh(clamp(v, -15.0, 15.0));
}

// ---- kernel 4: s4
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 400u;
const C: u32 = 16u;
const H: u32 = 10u;
const W: u32 = 10u;
const HO: u32 = 5u;
const WO: u32 = 5u;
const KH: u32 = 2u;
const KW: u32 = 2u;
const SH: u32 = 2u;
const SW: u32 = 2u;
const PT: u32 = 0u;
const PL: u32 = 0u;
const PB: u32 = 0u;
const PR: u32 = 0u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let ox = i % WO;
  let oy = (i / WO) % HO;
  let ch = (i / (WO * HO)) % C;
  let n = i / ((WO * HO) * C);
  let y0 = i32(oy * SH) - i32(PT);
  let x0 = i32(ox * SW) - i32(PL);
  let y1 = min(y0 + i32(KH), i32(H + PB));
  let x1 = min(x0 + i32(KW), i32(W + PR));
  var acc = 0.0;
  var count = 0.0;
  for (var iy = max(y0, 0); iy < min(y1, i32(H)); iy++) {
    for (var ix = max(x0, 0); ix < min(x1, i32(W)); ix++) {
      let v = x[((n * C + ch) * H + u32(iy)) * W + u32(ix)];
      acc += v;
      count += 1.0;
    }
  }
  y[i] = (acc / count);
}

// ---- kernel 5: c5
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
const C: u32 = 16u;
const H: u32 = 5u;
const W: u32 = 5u;
const F: u32 = 120u;
const HO: u32 = 1u;
const WO: u32 = 1u;
const KH: u32 = 5u;
const KW: u32 = 5u;
const SH: u32 = 1u;
const SW: u32 = 1u;
const DH: u32 = 1u;
const DW: u32 = 1u;
const PT: u32 = 0u;
const PL: u32 = 0u;
const K: u32 = 400u;
const N0: u32 = 0u;
const NC: u32 = 120u;
var<workgroup> tileA: array<array<f32, 16>, 64>;
var<workgroup> tileB: array<array<f32, 64>, 16>;
fn loadA(m: u32, k: u32, rows: u32) -> f32 {
  if (m >= rows || k >= K) { return 0.0; }
  let b = m / (HO * WO);
  let p = m % (HO * WO);
  let ci = k / (KH * KW);
  let r = k % (KH * KW);
  let iy = i32((p / WO) * SH + (r / KW) * DH) - i32(PT);
  let ix = i32((p % WO) * SW + (r % KW) * DW) - i32(PL);
  if (iy < 0 || iy >= i32(H) || ix < 0 || ix >= i32(W)) { return 0.0; }
  return x[((b * C + ci) * H + u32(iy)) * W + u32(ix)];
}
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let rows = params.batch * HO * WO;
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
  let t = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    for (var l = 0u; l < 4u; l++) {
      let e = t + l * 256u;
      if (e < 1024u) { tileA[e / 16u][e % 16u] = loadA(row0 + e / 16u, k0 + e % 16u, rows); }
    }
    {
      let nn = t % 64u;
      let kq = t / 64u;
      let n = col0 + nn;
      let k = k0 + kq * 4u;
      var v = vec4<f32>(0.0);
      if (k < K && n < NC) { v = wt[(n * K + k) / 4u]; }
      tileB[kq * 4u][nn] = v.x;
      tileB[kq * 4u + 1u][nn] = v.y;
      tileB[kq * 4u + 2u][nn] = v.z;
      tileB[kq * 4u + 3u][nn] = v.w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      var a: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = tileA[lid.y * 4u + i][kk]; }
      for (var j = 0u; j < 4u; j++) { bv[j] = tileB[kk][lid.x * 4u + j]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] += a[i] * bv[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = row0 + lid.y * 4u + i;
    if (m >= rows) { continue; }
    let b = m / (HO * WO);
    let p = m % (HO * WO);
    for (var j = 0u; j < 4u; j++) {
      let n = col0 + lid.x * 4u + j;
      if (n >= NC) { continue; }
      y[(b * F + N0 + n) * (HO * WO) + p] = (acc[i][j] + bias[N0 + n]);
    }
  }
}

// ---- kernel 6: tanh_3
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 120u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let v = x[i];
  y[i] = tanh(clamp(v, -15.0, 15.0));
}

// ---- kernel 7: f6, output_layer
struct Params { batch: u32, KV: u32, F: u32, NC: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
const N0: u32 = 0u;
var<workgroup> part: array<array<f32, 64>, 4>;
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = lid.x;
  let nBase = wid.x * 4u;
  let bBase = wid.y * 1u;
  // Rows and items past the end read the last valid ones (in bounds) and are not written.
  var rows: array<u32, 4>;
  for (var r = 0u; r < 4u; r++) { rows[r] = min(nBase + r, params.NC - 1u) * params.KV; }
  var items: array<u32, 1>;
  for (var b = 0u; b < 1u; b++) { items[b] = min(bBase + b, params.batch - 1u) * params.KV; }
  var acc: array<array<f32, 1>, 4>;
  for (var k = t; k < params.KV; k += 64u) {
    var xv: array<vec4<f32>, 1>;
    for (var b = 0u; b < 1u; b++) { xv[b] = x[items[b] + k]; }
    for (var r = 0u; r < 4u; r++) {
      let w = wt[rows[r] + k];
      for (var b = 0u; b < 1u; b++) { acc[r][b] += dot(w, xv[b]); }
    }
  }
  for (var r = 0u; r < 4u; r++) {
    for (var b = 0u; b < 1u; b++) { part[r * 1u + b][t] = acc[r][b]; }
  }
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (t < s) {
      for (var j = 0u; j < 4u; j++) { part[j][t] += part[j][t + s]; }
    }
    workgroupBarrier();
  }
  // one thread per (unit, item) result; fewer threads than results take several each
  for (var j = t; j < 4u; j += 64u) {
    let n = nBase + j / 1u;
    let b = bBase + j % 1u;
    if (n < params.NC && b < params.batch) {
      let o = b * params.F + N0 + n;
      y[o] = (part[j][0] + bias[N0 + n]);
    }
  }
}

// ---- kernel 8: tanh_4
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 84u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let v = x[i];
  y[i] = tanh(clamp(v, -15.0, 15.0));
}

// ---- kernel 9: softmax_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 1u;
const C: u32 = 10u;
const INNER: u32 = 1u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let n = i / INNER;
  let p = i % INNER;
  let base = n * C * INNER + p;
  var m = -3.402823e38;
  for (var c = 0u; c < C; c++) { m = max(m, x[base + c * INNER]); }
  var sum = 0.0;
  for (var c = 0u; c < C; c++) { sum += exp(x[base + c * INNER] - m); }
  for (var c = 0u; c < C; c++) { y[base + c * INNER] = exp(x[base + c * INNER] - m) / sum; }
}
