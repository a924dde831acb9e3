// Headless Chromium as the browser tests launch it: Debian's chromium (WebGPU on SwiftShader),
// with the flags DEVELOPERS.md gives.
export const chromiumPath = "/usr/bin/chromium";

export const chromiumFlags = [
  "--enable-unsafe-webgpu",
  "--no-sandbox",
  "--headless=new",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];
