// Writes build/icon.png (512×512 RGBA): the packaging icon used until the desktop shell ships its own
// resources/icons/app.png. No image library: a PNG is a signature, IHDR, zlib-deflated scanlines (IDAT) and IEND.
// Run: node build/make-icon.mjs
import { writeFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';

const SIZE = 512;

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

export function encodePng(width, height, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // colour type RGBA
  const rows = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    rows[y * (width * 4 + 1)] = 0; // filter: none
    rgba.copy(rows, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Coverage of a pixel by a shape given as a signed distance (negative inside), for soft 1-px edges. */
const cover = (distance) => Math.max(0, Math.min(1, 0.5 - distance));

function draw() {
  const pixels = Buffer.alloc(SIZE * SIZE * 4);
  const c = SIZE / 2;
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      // Rounded square background (radius 96, 16 px margin).
      const half = c - 16;
      const r = 96;
      const qx = Math.abs(px - c) - (half - r);
      const qy = Math.abs(py - c) - (half - r);
      const outside = Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
      const bg = cover(outside);
      // A goggle: white ring around a dark lens, on a strap.
      const d = Math.hypot(px - c, py - c);
      const ring = cover(d - 150) * (1 - cover(d - 112));
      const lens = cover(d - 112);
      const pupil = cover(Math.hypot(px - c - 18, py - c + 10) - 44);
      const strap = cover(Math.abs(py - c) - 28) * bg * (d > 150 ? 1 : 0);
      let [red, green, blue] = [47, 111, 222]; // background blue
      const mix = (amount, rgb) => {
        red += (rgb[0] - red) * amount;
        green += (rgb[1] - green) * amount;
        blue += (rgb[2] - blue) * amount;
      };
      mix(strap, [30, 30, 36]);
      mix(ring, [236, 238, 242]);
      mix(lens, [250, 210, 60]);
      mix(pupil, [40, 32, 24]);
      const i = (y * SIZE + x) * 4;
      pixels[i] = Math.round(red);
      pixels[i + 1] = Math.round(green);
      pixels[i + 2] = Math.round(blue);
      pixels[i + 3] = Math.round(255 * bg);
    }
  }
  return pixels;
}

writeFileSync(new URL('./icon.png', import.meta.url), encodePng(SIZE, SIZE, draw()));
