// Tensors in and out of a model, and images made into inputs. A `Tensor` is float32 values
// with their shape, NCHW, batch first: what `Model.run` returns for each output and accepts
// for each input. `pixelsToInput` turns decoded pixels (a canvas's ImageData in a page, or
// what an image decoder gives in Node) into an input: resized, channels chosen and ordered,
// scaled and normalised as the network was trained; `imageToInput` does the decoding too, in
// a browser (or any runtime with OffscreenCanvas and createImageBitmap).

export interface Tensor {
  /** The values, row-major over `shape`. */
  readonly data: Float32Array;
  /** Batch first, then channels, height, width (or what the network's output has). */
  readonly shape: readonly number[];
}

/** Decoded pixels: 8-bit (or float) values, interleaved, row by row. ImageData is one. */
export interface Pixels {
  readonly data: ArrayLike<number>;
  readonly width: number;
  readonly height: number;
  /** Values per pixel: 4 (RGBA, ImageData's), 3 (RGB) or 1 (grey). Defaults to 4. */
  readonly channels?: 1 | 3 | 4;
}

export interface ImageInputOptions {
  /** The network's input width and height; the image is resized to them (bilinear). */
  readonly width: number;
  readonly height: number;
  /** 3 (colour) or 1 (grey, ITU-R BT.601 luma). Defaults to 3. */
  readonly channels?: 1 | 3;
  /** Colour channels in the order the network was trained on: "rgb" (PyTorch) or "bgr" (Caffe, OpenCV, Paddle). */
  readonly order?: "rgb" | "bgr";
  /** Multiplies each 8-bit value first: 1/255 (the default) maps 0..255 to 0..1; 1 keeps 0..255. */
  readonly scale?: number;
  /** Subtracted per channel after scaling, in the output's channel order (ImageNet: [0.485, 0.456, 0.406]). */
  readonly mean?: readonly number[];
  /** Divides per channel after the mean (ImageNet: [0.229, 0.224, 0.225]). */
  readonly std?: readonly number[];
}

function perChannel(
  v: readonly number[] | undefined,
  channels: number,
  fill: number,
  what: string,
): number[] {
  if (v === undefined) return Array<number>(channels).fill(fill);
  if (v.length === 1) return Array<number>(channels).fill(v[0]!);
  if (v.length !== channels)
    throw new RangeError(`${what} has ${v.length} values; the input has ${channels} channels`);
  return [...v];
}

function positive(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`${what} must be a positive integer, got ${n}`);
}

/**
 * Pixels to a [1, C, H, W] input: bilinear resize with half-pixel centres (PyTorch's
 * `interpolate(align_corners=False)`, OpenCV's INTER_LINEAR), channels picked and ordered,
 * then `(value * scale - mean) / std` per channel.
 */
export function pixelsToInput(pixels: Pixels, options: ImageInputOptions): Tensor {
  const { width: W, height: H } = options;
  positive(W, "width");
  positive(H, "height");
  positive(pixels.width, "the image's width");
  positive(pixels.height, "the image's height");
  const stride = pixels.channels ?? 4;
  if (![1, 3, 4].includes(stride))
    throw new RangeError(`pixels have 1, 3 or 4 channels, got ${stride}`);
  if (pixels.data.length !== pixels.width * pixels.height * stride)
    throw new RangeError(
      `pixels: ${pixels.width}x${pixels.height} with ${stride} channels is ${pixels.width * pixels.height * stride} values, got ${pixels.data.length}`,
    );
  const C = options.channels ?? 3;
  if (C !== 1 && C !== 3) throw new RangeError(`channels is 1 or 3, got ${String(C)}`);
  const scale = options.scale ?? 1 / 255;
  const mean = perChannel(options.mean, C, 0, "mean");
  const std = perChannel(options.std, C, 1, "std");
  if (std.some((s) => s === 0 || !Number.isFinite(s)))
    throw new RangeError("std must be finite and not 0");
  // Which source channel feeds each output channel (grey images feed all three).
  const rgb = stride === 1 ? [0, 0, 0] : [0, 1, 2];
  const order = options.order === "bgr" ? [rgb[2]!, rgb[1]!, rgb[0]!] : rgb;
  const src = pixels.data;
  const sw = pixels.width;
  const sh = pixels.height;
  const out = new Float32Array(C * H * W);
  // Per output column and row: the two source indices and the weight of the second.
  const taps = (n: number, size: number): [Int32Array, Int32Array, Float32Array] => {
    const lo = new Int32Array(n);
    const hi = new Int32Array(n);
    const w = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = Math.min(Math.max((i + 0.5) * (size / n) - 0.5, 0), size - 1);
      lo[i] = Math.floor(x);
      hi[i] = Math.min(lo[i]! + 1, size - 1);
      w[i] = x - lo[i]!;
    }
    return [lo, hi, w];
  };
  const [x0, x1, wx] = taps(W, sw);
  const [y0, y1, wy] = taps(H, sh);
  const at = (x: number, y: number, c: number): number => src[(y * sw + x) * stride + c]!;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sample = (c: number): number => {
        const top = at(x0[x]!, y0[y]!, c) * (1 - wx[x]!) + at(x1[x]!, y0[y]!, c) * wx[x]!;
        const bottom = at(x0[x]!, y1[y]!, c) * (1 - wx[x]!) + at(x1[x]!, y1[y]!, c) * wx[x]!;
        return top * (1 - wy[y]!) + bottom * wy[y]!;
      };
      const pixel = y * W + x;
      if (C === 1) {
        const grey =
          stride === 1 ? sample(0) : 0.299 * sample(0) + 0.587 * sample(1) + 0.114 * sample(2);
        out[pixel] = (grey * scale - mean[0]!) / std[0]!;
      } else {
        for (let c = 0; c < 3; c++)
          out[c * H * W + pixel] = (sample(order[c]!) * scale - mean[c]!) / std[c]!;
      }
    }
  }
  return { data: out, shape: [1, C, H, W] };
}

/**
 * What `imageToInput` decodes: anything createImageBitmap takes, such as a Blob or File (an
 * encoded PNG or JPEG), an <img>, a <canvas>, an ImageBitmap or ImageData. Said structurally,
 * so that the types need no DOM library.
 */
export type ImageSource =
  | { readonly size: number; readonly type: string }
  | { readonly width: number; readonly height: number };

interface Bitmap {
  readonly width: number;
  readonly height: number;
  close(): void;
}

interface Canvas2D {
  drawImage(image: Bitmap, x: number, y: number): void;
  getImageData(x: number, y: number, w: number, h: number): Pixels;
}

/**
 * An image to a [1, C, H, W] input (see `pixelsToInput`), decoded by the browser. In Node,
 * decode with an image library and give its pixels to `pixelsToInput`.
 */
export async function imageToInput(
  source: ImageSource,
  options: ImageInputOptions,
): Promise<Tensor> {
  const g = globalThis as unknown as {
    createImageBitmap?: (s: ImageSource) => Promise<Bitmap>;
    OffscreenCanvas?: new (w: number, h: number) => { getContext(kind: "2d"): Canvas2D | null };
  };
  if (!g.createImageBitmap || !g.OffscreenCanvas)
    throw new Error(
      "imageToInput decodes images with createImageBitmap and OffscreenCanvas, which this runtime lacks: decode the image yourself and call pixelsToInput",
    );
  const bitmap = await g.createImageBitmap(source);
  try {
    const context = new g.OffscreenCanvas(bitmap.width, bitmap.height).getContext("2d");
    if (!context) throw new Error("imageToInput: no 2D canvas context");
    context.drawImage(bitmap, 0, 0);
    const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height);
    return pixelsToInput(pixels, options);
  } finally {
    bitmap.close();
  }
}
