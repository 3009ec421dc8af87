// The site's icon: a shoal of three fish on the page's accent blue. One drawing, written out twice:
// as SVG (`/favicon.svg`, what the page links) and rasterised into an ICO (`/favicon.ico`, what
// browsers, bookmarks and feed readers ask for when a page names no icon). Both are made once, here.

const SIZE = 32;
const CORNER = 7;
const BACKGROUND = [0x2d, 0x6c, 0xdf] as const; // the page's --accent
const FISH = [0xff, 0xff, 0xff] as const;

/** A fish facing right: an elliptic body centred at (x, y) and a triangular tail behind it. */
interface Fish { x: number; y: number }
const BODY = { rx: 5.2, ry: 3.1 };
const TAIL = { join: 4, back: 8.5, spread: 3.2 }; // the tail meets the body `join` left of its centre
const SHOAL: readonly Fish[] = [{ x: 21, y: 9.5 }, { x: 13.5, y: 16.5 }, { x: 22.5, y: 23 }];

const tailOf = ({ x, y }: Fish): Array<[number, number]> => [[x - TAIL.join, y], [x - TAIL.back, y - TAIL.spread], [x - TAIL.back, y + TAIL.spread]];

/** The icon as an SVG document. */
export const FAVICON_SVG = [
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${SIZE} ${SIZE}">`,
  `<rect width="${SIZE}" height="${SIZE}" rx="${CORNER}" fill="#${hex(BACKGROUND)}"/>`,
  `<g fill="#${hex(FISH)}">`,
  ...SHOAL.map((fish) => `<ellipse cx="${fish.x}" cy="${fish.y}" rx="${BODY.rx}" ry="${BODY.ry}"/><polygon points="${tailOf(fish).map((p) => p.join(',')).join(' ')}"/>`),
  '</g></svg>',
].join('');

/** The icon as a 32×32 ICO: one 32-bit BMP image with alpha, 4×4 samples per pixel for smooth edges. */
export const FAVICON_ICO: Uint8Array<ArrayBuffer> = icoOf(rasterise());

function hex(rgb: readonly number[]): string {
  return rgb.map((c) => c.toString(16).padStart(2, '0')).join('');
}

function inBackground(px: number, py: number): boolean {
  // Inside the rounded square: the nearest point of the inner square (inset by the corner radius) is within the radius.
  const dx = Math.max(CORNER - px, 0, px - (SIZE - CORNER));
  const dy = Math.max(CORNER - py, 0, py - (SIZE - CORNER));
  return dx * dx + dy * dy <= CORNER * CORNER;
}

function inFish(px: number, py: number): boolean {
  return SHOAL.some((fish) => {
    const ex = (px - fish.x) / BODY.rx, ey = (py - fish.y) / BODY.ry;
    return ex * ex + ey * ey <= 1 || inTriangle(px, py, tailOf(fish));
  });
}

function inTriangle(px: number, py: number, [a, b, c]: Array<[number, number]>): boolean {
  const side = (p: [number, number], q: [number, number]) => (q[0] - p[0]) * (py - p[1]) - (q[1] - p[1]) * (px - p[0]);
  const s1 = side(a!, b!), s2 = side(b!, c!), s3 = side(c!, a!);
  return (s1 >= 0 && s2 >= 0 && s3 >= 0) || (s1 <= 0 && s2 <= 0 && s3 <= 0);
}

/** RGBA rows, top row first: each pixel's colour and coverage averaged over a 4×4 grid of samples. */
function rasterise(): Uint8Array {
  const samples = 4;
  const rgba = new Uint8Array(SIZE * SIZE * 4);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      let background = 0, fish = 0;
      for (let j = 0; j < samples; j++) {
        for (let i = 0; i < samples; i++) {
          const px = x + (i + 0.5) / samples, py = y + (j + 0.5) / samples;
          if (!inBackground(px, py)) continue;
          background++;
          if (inFish(px, py)) fish++;
        }
      }
      const at = (y * SIZE + x) * 4;
      const share = background === 0 ? 0 : fish / background; // the fish lie inside the square
      for (let c = 0; c < 3; c++) rgba[at + c] = Math.round(BACKGROUND[c]! + (FISH[c]! - BACKGROUND[c]!) * share);
      rgba[at + 3] = Math.round((255 * background) / (samples * samples));
    }
  }
  return rgba;
}

/**
 * An ICO file holding one image (Microsoft's ICONDIR, ICONDIRENTRY, then a BITMAPINFOHEADER whose
 * height counts the colour rows and the AND mask's rows; colour rows bottom-up in BGRA; the 1-bit
 * mask marks fully transparent pixels, each row padded to 32 bits).
 */
function icoOf(rgba: Uint8Array): Uint8Array<ArrayBuffer> {
  const maskRowBytes = Math.ceil(SIZE / 32) * 4;
  const imageBytes = 40 + SIZE * SIZE * 4 + maskRowBytes * SIZE;
  const out = new Uint8Array(6 + 16 + imageBytes);
  const view = new DataView(out.buffer);
  view.setUint16(2, 1, true); // type: icon
  view.setUint16(4, 1, true); // one image
  out[6] = SIZE; out[7] = SIZE; // width, height (0 would mean 256)
  view.setUint16(10, 1, true); // colour planes
  view.setUint16(12, 32, true); // bits per pixel
  view.setUint32(14, imageBytes, true);
  view.setUint32(18, 22, true); // where the image starts
  const bmp = 22;
  view.setUint32(bmp, 40, true);
  view.setInt32(bmp + 4, SIZE, true);
  view.setInt32(bmp + 8, SIZE * 2, true);
  view.setUint16(bmp + 12, 1, true);
  view.setUint16(bmp + 14, 32, true);
  view.setUint32(bmp + 20, imageBytes - 40, true);
  const pixels = bmp + 40, mask = pixels + SIZE * SIZE * 4;
  for (let row = 0; row < SIZE; row++) {
    const y = SIZE - 1 - row; // bottom-up
    for (let x = 0; x < SIZE; x++) {
      const from = (y * SIZE + x) * 4, to = pixels + (row * SIZE + x) * 4;
      out[to] = rgba[from + 2]!; out[to + 1] = rgba[from + 1]!; out[to + 2] = rgba[from]!; out[to + 3] = rgba[from + 3]!;
      if (rgba[from + 3] === 0) { const at = mask + row * maskRowBytes + (x >> 3); out[at] = out[at]! | (0x80 >> (x & 7)); }
    }
  }
  return out;
}
