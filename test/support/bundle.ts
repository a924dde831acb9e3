// Crafting bundles in tests: a valid file whose manifest says something else (checksums
// right, so only the validator's and the runtime's own checks can catch it).
import {
  blobStart,
  BundleError,
  crc32,
  headerBytes,
  validateManifest,
  type Manifest,
} from "../../runtime/format.js";
import { parseBundle } from "../../runtime/index.js";

/** The check the validator names for manifest `m` over a blob of `blobBytes` (undefined: none). */
export function manifestCheck(m: unknown, blobBytes: number): string | undefined {
  try {
    validateManifest(m, blobBytes);
    return undefined;
  } catch (e) {
    return e instanceof BundleError ? e.check : "not a BundleError";
  }
}

/** The bundle `bytes` re-encoded with its manifest changed by `change`. */
export function withManifest(bytes: Uint8Array, change: (m: Manifest) => object): Uint8Array {
  const { manifest, blob } = parseBundle(bytes);
  const json = new TextEncoder().encode(JSON.stringify(change(manifest)));
  const out = new Uint8Array(blobStart(json.length) + blob.length);
  const view = new DataView(out.buffer);
  out.set(bytes.subarray(0, 8), 0);
  view.setUint32(8, json.length, true);
  view.setUint32(12, crc32(json), true);
  out.set(json, headerBytes);
  out.set(blob, blobStart(json.length));
  return out;
}
