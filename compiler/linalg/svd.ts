// Low-rank factorisation for the spatial decomposition pass: a truncated SVD of a dense
// row-major float64 matrix, with work bounded by the rank we are willing to accept.
//
// The whole SVD of a 3x3 conv with 512 channels in and out is a 1536 x 1536 problem, far too
// slow to run on every layer at build time in JavaScript. Two facts keep the work bounded:
//  1. A decomposition only pays when its rank is below some `maxRank` (where its MACs reach the
//     original conv's). A k x k submatrix of M of full rank proves rank(M) >= k, so a random
//     (maxRank+1)-square submatrix with clear pivots rules a layer out after O(maxRank^3 / 3)
//     work, without looking at the rest of M. Trained or random weights almost always stop there.
//  2. Otherwise a randomised range finder (Halko, Martinsson and Tropp 2011) grows an orthonormal
//     basis Q of M's column space in blocks, at O(m n k) for k columns, until the part of M
//     outside span(Q) is within tolerance, or k passes maxRank. The SVD of the small Q^T M then
//     gives the factors, through the eigen-decomposition of its k x k Gram matrix.
// The result is checked against M itself (by random probes), so a factorisation is never
// trusted on faith; the pass also measures the rewritten conv against the original.
import { random } from "../weights/init.js";

export interface LowRank {
  readonly rank: number;
  /** m x rank, row-major: U * sqrt(S). */
  readonly left: Float64Array;
  /** n x rank, row-major: V * sqrt(S). */
  readonly right: Float64Array;
  /** Singular values found (descending), at least `rank` of them. */
  readonly singular: Float64Array;
  /** ||M - left * right^T||_F / ||M||_F, estimated from random probes of the difference. */
  readonly error: number;
}

export interface LowRankOptions {
  /** Relative Frobenius error allowed: 1e-6 means "exact" for float32 weights. */
  readonly tol: number;
  /** Give up (return undefined) when the rank needed is above this. */
  readonly maxRank: number;
  readonly seed?: number;
}

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * True when a random k x k submatrix of M (m x n) has clearly full rank, which shows rank(M) >= k
 * with room to spare. Gaussian elimination with partial pivoting; a pivot counts when it is above
 * 1e-4 of M's largest entry, well clear of float32 rounding (a rank-r matrix stored in float32
 * is of full rank at 1e-7). A screen, not a proof: when it says no, the caller does the real work,
 * so a false "no" costs time and never correctness.
 */
export function provesRankAtLeast(
  M: Float64Array,
  m: number,
  n: number,
  k: number,
  seed = 1,
): boolean {
  if (k > Math.min(m, n)) return false;
  if (k <= 0) return true;
  const rand = random(seed);
  const pick = (count: number): number[] => {
    const all = Array.from({ length: count }, (_, i) => i);
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, k);
  };
  const rows = pick(m);
  const cols = pick(n);
  let largest = 0;
  for (let i = 0; i < M.length; i++) largest = Math.max(largest, Math.abs(M[i]!));
  if (largest === 0) return false;
  const A = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) A[i * k + j] = M[rows[i]! * n + cols[j]!]!;
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(A[r * k + c]!) > Math.abs(A[p * k + c]!)) p = r;
    const pivot = A[p * k + c]!;
    if (Math.abs(pivot) <= 1e-4 * largest) return false;
    if (p !== c) {
      for (let j = c; j < k; j++) {
        const t = A[c * k + j]!;
        A[c * k + j] = A[p * k + j]!;
        A[p * k + j] = t;
      }
    }
    for (let r = c + 1; r < k; r++) {
      const f = A[r * k + c]! / pivot;
      if (f === 0) continue;
      for (let j = c + 1; j < k; j++) A[r * k + j]! -= f * A[c * k + j]!;
    }
  }
  return true;
}

/**
 * Eigen-decomposition of a symmetric n x n matrix (row-major, destroyed): Householder reduction
 * to tridiagonal form, then the implicit QL iteration with Wilkinson-style shifts. Returns the
 * eigenvalues descending and the eigenvectors as the columns of an n x n row-major matrix.
 */
export function symmetricEigen(
  A: Float64Array,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  const V = A; // transformed in place into the eigenvectors
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const at = (i: number, j: number): number => i * n + j;
  // Householder tridiagonalisation (rows from the bottom up), accumulating the transform in V.
  for (let j = 0; j < n; j++) d[j] = V[at(n - 1, j)]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = V[at(i - 1, j)]!;
        V[at(i, j)] = 0;
        V[at(j, i)] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        V[at(j, i)] = f;
        g = e[j]! + V[at(j, j)]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[at(k, j)]! * d[k]!;
          e[k]! += V[at(k, j)]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) V[at(k, j)]! -= f * e[k]! + g * d[k]!;
        d[j] = V[at(i - 1, j)]!;
        V[at(i, j)] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    V[at(n - 1, i)] = V[at(i, i)]!;
    V[at(i, i)] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[at(k, i + 1)]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[at(k, i + 1)]! * V[at(k, j)]!;
        for (let k = 0; k <= i; k++) V[at(k, j)]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) V[at(k, i + 1)] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[at(n - 1, j)]!;
    V[at(n - 1, j)] = 0;
  }
  V[at(n - 1, n - 1)] = 1;
  e[0] = 0;
  // Implicit QL on the tridiagonal (d, e), rotating V along.
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n && Math.abs(e[m]!) > eps * tst1) m++;
    if (m > l) {
      for (let iter = 0; ; iter++) {
        if (iter > 60) throw new Error("internal: symmetric eigen-solver did not converge");
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          for (let k = 0; k < n; k++) {
            const vk1 = V[at(k, i + 1)]!;
            const vk = V[at(k, i)]!;
            V[at(k, i + 1)] = s * vk + c * vk1;
            V[at(k, i)] = c * vk - s * vk1;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]!) > eps * tst1)) break;
      }
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  // Sort descending, permuting the vectors' columns.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => d[b]! - d[a]!);
  const values = Float64Array.from(order, (i) => d[i]!);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++) vectors[r * n + c] = V[r * n + order[c]!]!;
  return { values, vectors };
}

/** Appends to the orthonormal basis Q (vectors of length m) the part of each vector of Y that
 * lies outside its span: two passes of modified Gram-Schmidt; dependent vectors are dropped. */
function extendBasis(Q: Float64Array[], Y: Float64Array[], m: number): void {
  for (const y of Y) {
    const norm0 = Math.sqrt(y.reduce((a, v) => a + v * v, 0));
    if (norm0 === 0) continue;
    for (let pass = 0; pass < 2; pass++) {
      for (const q of Q) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += q[i]! * y[i]!;
        for (let i = 0; i < m; i++) y[i]! -= dot * q[i]!;
      }
    }
    const norm = Math.sqrt(y.reduce((a, v) => a + v * v, 0));
    if (norm <= 1e-12 * norm0) continue; // already in the span
    for (let i = 0; i < m; i++) y[i]! /= norm;
    Q.push(y);
  }
}

/** n x b Gaussian matrix, row-major. */
function gaussians(n: number, b: number, rand: () => number): Float64Array {
  return Float64Array.from({ length: n * b }, () => gaussian(rand));
}

/** M (m x n) times X (n x b, row-major), returned as b columns of length m. */
function times(M: Float64Array, m: number, n: number, X: Float64Array, b: number): Float64Array[] {
  const Y = new Float64Array(m * b);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    const out = i * b;
    for (let j = 0; j < n; j++) {
      const v = M[row + j]!;
      if (v === 0) continue;
      const x = j * b;
      for (let t = 0; t < b; t++) Y[out + t]! += v * X[x + t]!;
    }
  }
  return Array.from({ length: b }, (_, t) =>
    Float64Array.from({ length: m }, (_, i) => Y[i * b + t]!),
  );
}

/** q^T M for each q (length m): rows of length n. */
function timesTransposed(
  M: Float64Array,
  m: number,
  n: number,
  qs: readonly Float64Array[],
): Float64Array[] {
  return qs.map((q) => {
    const x = new Float64Array(n);
    for (let i = 0; i < m; i++) {
      const qi = q[i]!;
      if (qi === 0) continue;
      const row = i * n;
      for (let j = 0; j < n; j++) x[j]! += M[row + j]! * qi;
    }
    return x;
  });
}

/**
 * The smallest-rank factorisation M ~ left * right^T within `tol` (relative Frobenius error),
 * or undefined when that rank is above `maxRank`.
 */
export function lowRank(
  M: Float64Array,
  m: number,
  n: number,
  options: LowRankOptions,
): LowRank | undefined {
  const { tol, maxRank } = options;
  const full = Math.min(m, n);
  const limit = Math.min(maxRank, full);
  if (limit <= 0) return undefined;
  let total = 0;
  for (let i = 0; i < M.length; i++) total += M[i]! * M[i]!;
  if (total === 0) return undefined; // an all-zero kernel is dead code's business, not ours
  const rand = random(options.seed ?? 7);
  const Q: Float64Array[] = [];
  const B: Float64Array[] = []; // rows: q^T M for each q in Q
  let captured = 0; // ||Q^T M||_F^2, the energy of M inside span(Q)
  let block = Math.min(16, limit + 4);
  for (;;) {
    const want = Math.min(block, full - Q.length);
    const Y = times(M, m, n, gaussians(n, want, rand), want);
    const before = Q.length;
    extendBasis(Q, Y, m);
    const rows = timesTransposed(M, m, n, Q.slice(before));
    let gained = 0;
    for (const row of rows) {
      B.push(row);
      gained += row.reduce((a, v) => a + v * v, 0);
    }
    captured += gained;
    const outside = Math.max(0, total - captured);
    if (outside <= tol * tol * total * 0.25) break; // the basis holds M to within tol / 2
    if (Q.length >= full || Q.length === before) break;
    if (Q.length > limit + 8) return undefined; // the rank needed is above what we accept
    // Later directions hold less energy than earlier ones (the sketch finds the large singular
    // values first). If even the last block's rate for every direction we could still add
    // leaves too much outside, stop now: a flat spectrum (random or well-trained weights) costs
    // a few blocks instead of the whole search. Missing a decomposition is safe; a wrong one is
    // impossible (everything is measured below).
    const rate = gained / (Q.length - before);
    if (captured + rate * (limit - Q.length) < total * (1 - tol * tol)) return undefined;
    block = Math.min(2 * block, limit + 9 - Q.length);
  }
  // SVD of the small B (k x n) through its Gram matrix B B^T = W diag(s^2) W^T.
  const k = Q.length;
  const G = new Float64Array(k * k);
  for (let a = 0; a < k; a++)
    for (let b = a; b < k; b++) {
      let s = 0;
      const ra = B[a]!;
      const rb = B[b]!;
      for (let j = 0; j < n; j++) s += ra[j]! * rb[j]!;
      G[a * k + b] = s;
      G[b * k + a] = s;
    }
  const { values, vectors: W } = symmetricEigen(G, k);
  const singular = Float64Array.from(values, (v) => Math.sqrt(Math.max(v, 0)));
  // Smallest rank whose discarded energy is within tolerance.
  let rank = 0;
  let kept = 0;
  while (rank < k && total - kept > tol * tol * total) ((kept += singular[rank]! ** 2), rank++);
  if (rank === 0 || rank > limit) return undefined;
  // left = Q W_r sqrt(s), right = B^T W_r / sqrt(s)  (so left * right^T = Q W_r W_r^T B).
  const wl = new Float64Array(k * rank);
  const wr = new Float64Array(k * rank);
  for (let q = 0; q < k; q++)
    for (let r = 0; r < rank; r++) {
      const root = Math.sqrt(singular[r]!);
      wl[q * rank + r] = W[q * k + r]! * root;
      wr[q * rank + r] = W[q * k + r]! / root;
    }
  const left = new Float64Array(m * rank);
  const right = new Float64Array(n * rank);
  for (let q = 0; q < k; q++) {
    const qv = Q[q]!;
    const bv = B[q]!;
    for (let i = 0; i < m; i++) {
      const v = qv[i]!;
      for (let r = 0; r < rank; r++) left[i * rank + r]! += v * wl[q * rank + r]!;
    }
    for (let j = 0; j < n; j++) {
      const v = bv[j]!;
      for (let r = 0; r < rank; r++) right[j * rank + r]! += v * wr[q * rank + r]!;
    }
  }
  // ||M - left right^T||_F estimated from random probes (E ||A g||^2 = ||A||_F^2 for Gaussian g):
  // O(m n) per probe instead of O(m n rank) for the whole product.
  const probes = 8;
  const G8 = gaussians(n, probes, rand);
  const MG = times(M, m, n, G8, probes);
  let residual = 0;
  for (let t = 0; t < probes; t++) {
    const rg = new Float64Array(rank);
    for (let j = 0; j < n; j++) {
      const g = G8[j * probes + t]!;
      for (let r = 0; r < rank; r++) rg[r]! += right[j * rank + r]! * g;
    }
    const y = MG[t]!;
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let r = 0; r < rank; r++) s += left[i * rank + r]! * rg[r]!;
      residual += (y[i]! - s) ** 2;
    }
  }
  const error = Math.sqrt(residual / probes / total);
  return { rank, left, right, singular, error };
}
