// ---- kernel 0: stem
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
const C: u32 = 3u;
const H: u32 = 64u;
const W: u32 = 64u;
const F: u32 = 32u;
const HO: u32 = 32u;
const WO: u32 = 32u;
const KH: u32 = 3u;
const KW: u32 = 3u;
const SH: u32 = 2u;
const SW: u32 = 2u;
const DH: u32 = 1u;
const DW: u32 = 1u;
const PT: u32 = 0u;
const PL: u32 = 0u;
const K: u32 = 27u;
const N0: u32 = 0u;
const NC: u32 = 32u;
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
    for (var l = 0u; l < 4u; l++) {
      let e = t + l * 256u;
      let k = k0 + e / 64u;
      let n = col0 + e % 64u;
      var v = 0.0;
      if (e < 1024u && k < K && n < NC) { v = wt[n * K + k]; }
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
    let b = m / (HO * WO);
    let p = m % (HO * WO);
    for (var j = 0u; j < 4u; j++) {
      let n = col0 + lid.x * 4u + j;
      if (n >= NC) { continue; }
      y[(b * F + N0 + n) * (HO * WO) + p] = (acc[i][j] + bias[N0 + n]);
    }
  }
}

// ---- kernel 1: bn_1, basic_1.branch_1.bn_1, basic_1.branch_1.bn_2, basic_2.branch_1.bn_1, basic_2.branch_1.bn_2
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;
@group(0) @binding(5) var<storage, read> variance: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
const PER: u32 = 32768u;
const C: u32 = 32u;
const INNER: u32 = 1024u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let ch = (i / INNER) % C;
  let v = (x[i] - mean[ch]) * gamma[ch] * inverseSqrt(variance[ch] + 0.00001) + beta[ch];
  y[i] = v;
}

// ---- kernel 2: relu_1, basic_1.branch_1.relu_1, basic_1.relu_1, basic_2.branch_1.relu_1, basic_2.relu_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 32768u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let v = x[i];
  y[i] = max(v, 0.0);
}

// ---- kernel 3: basic_1.branch_1.conv_1, basic_1.branch_1.conv_2, basic_2.branch_1.conv_1, basic_2.branch_1.conv_2
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
const PER: u32 = 8192u;
const C: u32 = 32u;
const H: u32 = 32u;
const W: u32 = 32u;
const P: u32 = 256u;
const TW: u32 = 16u;
const PT: u32 = 1u;
const PL: u32 = 1u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let tile = i % P;
  let ci = (i / P) % C;
  let b = i / (P * C);
  let y0 = i32((tile / TW) * 2u) - i32(PT);
  let x0 = i32((tile % TW) * 2u) - i32(PL);
  var d: array<vec4<f32>, 4>;
  for (var r = 0; r < 4; r++) {
    let iy = y0 + r;
    if (iy < 0 || iy >= i32(H)) { continue; }
    var e = vec4<f32>(0.0);
    for (var s = 0; s < 4; s++) {
      let ix = x0 + s;
      if (ix >= 0 && ix < i32(W)) { e[s] = x[((b * C + ci) * H + u32(iy)) * W + u32(ix)]; }
    }
    d[r] = e;
  }
  // B^T d (rows), then (B^T d) B (columns)
  var rows = array<vec4<f32>, 4>(d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]);
  let out = (b * 16u * C + ci) * P + tile;
  for (var r = 0u; r < 4u; r++) {
    let e = rows[r];
    let o = out + r * 4u * C * P;
    v[o] = e.x - e.z;
    v[o + C * P] = e.y + e.z;
    v[o + 2u * C * P] = e.z - e.y;
    v[o + 3u * C * P] = e.y - e.w;
  }
}

// ---- kernel 4: basic_1.branch_1.conv_1, basic_1.branch_1.conv_2, basic_2.branch_1.conv_1, basic_2.branch_1.conv_2
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
const C: u32 = 32u;
const H: u32 = 1u;
const W: u32 = 256u;
const F: u32 = 32u;
const HO: u32 = 1u;
const WO: u32 = 256u;
const KH: u32 = 1u;
const KW: u32 = 1u;
const SH: u32 = 1u;
const SW: u32 = 1u;
const DH: u32 = 1u;
const DW: u32 = 1u;
const PT: u32 = 0u;
const PL: u32 = 0u;
const XC: u32 = 512u;
const YC: u32 = 512u;
const K: u32 = 32u;
const N0: u32 = 0u;
const NC: u32 = 32u;
var<workgroup> tileA: array<array<f32, 16>, 64>;
var<workgroup> tileB: array<array<f32, 64>, 16>;
var<private> zi: u32;
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  zi = wid.z;
  let rows = params.batch * HO * WO;
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
  let t = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    {
      let kk = t / 16u;
      let mq = t % 16u;
      let m = row0 + mq * 4u;
      let k = k0 + kk;
      var v = vec4<f32>(0.0);
      if (m < rows && k < K) { v = x[((m / (HO * WO)) * XC + zi * C + k) * (HO * WO) / 4u + (m % (HO * WO)) / 4u]; }
      tileA[mq * 4u][kk] = v.x;
      tileA[mq * 4u + 1u][kk] = v.y;
      tileA[mq * 4u + 2u][kk] = v.z;
      tileA[mq * 4u + 3u][kk] = v.w;
    }
    {
      let nn = t % 64u;
      let kq = t / 64u;
      let n = col0 + nn;
      let k = k0 + kq * 4u;
      var v = vec4<f32>(0.0);
      if (k < K && n < NC) { v = wt[(zi * NC * K + n * K + k) / 4u]; }
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
      let o = (b * YC + zi * F + n) * HO * WO + p;
      y[o] = acc[i][j];
    }
  }
}

// ---- kernel 5: basic_1.branch_1.conv_1, basic_1.branch_1.conv_2, basic_2.branch_1.conv_1, basic_2.branch_1.conv_2
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> m: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 8192u;
const F: u32 = 32u;
const HO: u32 = 32u;
const WO: u32 = 32u;
const P: u32 = 256u;
const TW: u32 = 16u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let tile = i % P;
  let fo = (i / P) % F;
  let b = i / (P * F);
  let base = (b * 16u * F + fo) * P + tile;
  // A^T M: two rows of four
  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  for (var r = 0u; r < 4u; r++) {
    let o = base + r * 4u * F * P;
    let e = vec4<f32>(m[o], m[o + F * P], m[o + 2u * F * P], m[o + 3u * F * P]);
    if (r < 3u) { s0 += e; }
    if (r == 1u) { s1 += e; }
    if (r >= 2u) { s1 -= e; }
  }
  // (A^T M) A
  var q = array<vec2<f32>, 2>(
    vec2<f32>(s0.x + s0.y + s0.z, s0.y - s0.z - s0.w),
    vec2<f32>(s1.x + s1.y + s1.z, s1.y - s1.z - s1.w),
  );
  let y0 = (tile / TW) * 2u;
  let x0 = (tile % TW) * 2u;
  for (var r = 0u; r < 2u; r++) {
    let oy = y0 + r;
    if (oy >= HO) { break; }
    for (var s = 0u; s < 2u; s++) {
      let ox = x0 + s;
      if (ox >= WO) { break; }
      y[((b * F + fo) * HO + oy) * WO + ox] = q[r][s];
    }
  }
}

// ---- kernel 6: basic_1.add_1, basic_2.add_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> a0: array<f32>;
@group(0) @binding(2) var<storage, read_write> a1: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
const PER: u32 = 32768u;
const D0: u32 = 32u;
const D1: u32 = 32u;
const D2: u32 = 32u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let c2 = i % D2;
  let c1 = (i / D2) % D1;
  let c0 = (i / (D2 * D1)) % D0;
  let n = i / PER;
  let v = a0[n * 32768u + c0 * 1024u + c1 * 32u + c2 * 1u] + a1[n * 32768u + c0 * 1024u + c1 * 32u + c2 * 1u];
  y[i] = v;
}

// ---- kernel 7: inception_1.branch_1.conv_1, inception_1.branch_2.conv_1, inception_1.branch_3.conv_1, inception_1.branch_4.conv_1
struct Params { batch: u32, F: u32, NC: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
const C: u32 = 32u;
const H: u32 = 32u;
const W: u32 = 32u;
const HO: u32 = 32u;
const WO: u32 = 32u;
const KH: u32 = 1u;
const KW: u32 = 1u;
const SH: u32 = 1u;
const SW: u32 = 1u;
const DH: u32 = 1u;
const DW: u32 = 1u;
const PT: u32 = 0u;
const PL: u32 = 0u;
const K: u32 = 32u;
const N0: u32 = 0u;
var<workgroup> tileA: array<array<f32, 16>, 64>;
var<workgroup> tileB: array<array<f32, 64>, 16>;
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let rows = params.batch * HO * WO;
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
  let t = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    {
      let kk = t / 16u;
      let mq = t % 16u;
      let m = row0 + mq * 4u;
      let k = k0 + kk;
      var v = vec4<f32>(0.0);
      if (m < rows && k < K) { v = x[((m / (HO * WO)) * C + k) * (HO * WO) / 4u + (m % (HO * WO)) / 4u]; }
      tileA[mq * 4u][kk] = v.x;
      tileA[mq * 4u + 1u][kk] = v.y;
      tileA[mq * 4u + 2u][kk] = v.z;
      tileA[mq * 4u + 3u][kk] = v.w;
    }
    {
      let nn = t % 64u;
      let kq = t / 64u;
      let n = col0 + nn;
      let k = k0 + kq * 4u;
      var v = vec4<f32>(0.0);
      if (k < K && n < params.NC) { v = wt[(n * K + k) / 4u]; }
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
      if (n >= params.NC) { continue; }
      y[(b * params.F + N0 + n) * (HO * WO) + p] = (acc[i][j] + bias[N0 + n]);
    }
  }
}

// ---- kernel 8: inception_1.branch_1.relu_1, inception_1.branch_2.relu_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 16384u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let v = x[i];
  y[i] = max(v, 0.0);
}

// ---- kernel 9: inception_1.branch_2.conv_2, inception_1.branch_3.conv_2
struct Params { batch: u32, C: u32, F: u32, KH: u32, KW: u32, PT: u32, PL: u32, K: u32, NC: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
const H: u32 = 32u;
const W: u32 = 32u;
const HO: u32 = 32u;
const WO: u32 = 32u;
const SH: u32 = 1u;
const SW: u32 = 1u;
const DH: u32 = 1u;
const DW: u32 = 1u;
const N0: u32 = 0u;
var<workgroup> tileA: array<array<f32, 16>, 64>;
var<workgroup> tileB: array<array<f32, 64>, 16>;
fn loadA(m: u32, k: u32, rows: u32) -> f32 {
  if (m >= rows || k >= params.K) { return 0.0; }
  let b = m / (HO * WO);
  let p = m % (HO * WO);
  let ci = k / (params.KH * params.KW);
  let r = k % (params.KH * params.KW);
  let iy = i32((p / WO) * SH + (r / params.KW) * DH) - i32(params.PT);
  let ix = i32((p % WO) * SW + (r % params.KW) * DW) - i32(params.PL);
  if (iy < 0 || iy >= i32(H) || ix < 0 || ix >= i32(W)) { return 0.0; }
  return x[((b * params.C + ci) * H + u32(iy)) * W + u32(ix)];
}
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let rows = params.batch * HO * WO;
  let row0 = wid.y * 64u;
  let col0 = wid.x * 64u;
  let t = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var k0 = 0u; k0 < params.K; k0 += 16u) {
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
      if (k < params.K && n < params.NC) { v = wt[(n * params.K + k) / 4u]; }
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
      if (n >= params.NC) { continue; }
      y[(b * params.F + N0 + n) * (HO * WO) + p] = (acc[i][j] + bias[N0 + n]);
    }
  }
}

// ---- kernel 10: inception_1.branch_2.relu_2
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 24576u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let v = x[i];
  y[i] = max(v, 0.0);
}

// ---- kernel 11: inception_1.branch_3.relu_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 4096u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let v = x[i];
  y[i] = max(v, 0.0);
}

// ---- kernel 12: inception_1.branch_3.relu_2, inception_1.branch_4.relu_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 8192u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let v = x[i];
  y[i] = max(v, 0.0);
}

// ---- kernel 13: inception_1.branch_4.maxpool_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 32768u;
const C: u32 = 32u;
const H: u32 = 32u;
const W: u32 = 32u;
const HO: u32 = 32u;
const WO: u32 = 32u;
const KH: u32 = 3u;
const KW: u32 = 3u;
const SH: u32 = 1u;
const SW: u32 = 1u;
const PT: u32 = 1u;
const PL: u32 = 1u;
const PB: u32 = 1u;
const PR: u32 = 1u;
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
  var acc = -3.402823e38;
  var count = 0.0;
  for (var iy = max(y0, 0); iy < min(y1, i32(H)); iy++) {
    for (var ix = max(x0, 0); ix < min(x1, i32(W)); ix++) {
      let v = x[((n * C + ch) * H + u32(iy)) * W + u32(ix)];
      acc = max(acc, v);
      count += 1.0;
    }
  }
  y[i] = acc;
}

// ---- kernel 14: inception_1.concat_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 16384u;
const OUT: u32 = 57344u;
const OFF: u32 = 0u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let n = i / PER;
  y[n * OUT + OFF + i % PER] = x[i];
}

// ---- kernel 15: inception_1.concat_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 24576u;
const OUT: u32 = 57344u;
const OFF: u32 = 16384u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let n = i / PER;
  y[n * OUT + OFF + i % PER] = x[i];
}

// ---- kernel 16: inception_1.concat_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 8192u;
const OUT: u32 = 57344u;
const OFF: u32 = 40960u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let n = i / PER;
  y[n * OUT + OFF + i % PER] = x[i];
}

// ---- kernel 17: inception_1.concat_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 8192u;
const OUT: u32 = 57344u;
const OFF: u32 = 49152u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  let n = i / PER;
  y[n * OUT + OFF + i % PER] = x[i];
}

// ---- kernel 18: globalavgpool_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const PER: u32 = 56u;
const C: u32 = 56u;
const HW: u32 = 1024u;
@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.batch * PER) { return; }
  var acc = 0.0;
  for (var j = 0u; j < HW; j++) { acc += x[(i / C * C + i % C) * HW + j]; }
  y[i] = (acc / f32(HW));
}

// ---- kernel 19: dense_1
struct Params { batch: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wt: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
const KV: u32 = 14u;
const F: u32 = 10u;
const N0: u32 = 0u;
const NC: u32 = 10u;
var<workgroup> part: array<array<f32, 64>, 4>;
@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = lid.x;
  let nBase = wid.x * 4u;
  let bBase = wid.y * 1u;
  // Rows and items past the end read the last valid ones (in bounds) and are not written.
  var rows: array<u32, 4>;
  for (var r = 0u; r < 4u; r++) { rows[r] = min(nBase + r, NC - 1u) * KV; }
  var items: array<u32, 1>;
  for (var b = 0u; b < 1u; b++) { items[b] = min(bBase + b, params.batch - 1u) * KV; }
  var acc: array<array<f32, 1>, 4>;
  for (var k = t; k < KV; k += 64u) {
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
    if (n < NC && b < params.batch) {
      let o = b * F + N0 + n;
      y[o] = (part[j][0] + bias[N0 + n]);
    }
  }
}
