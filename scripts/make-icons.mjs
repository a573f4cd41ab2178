// Draws the desktop shell's images into resources/icons/ (committed; rerun after changing a shape):
//   tray-<state>.png / tray-<state>@2x.png            16/32 px colour icons (Windows, Linux)
//   tray-<state>Template.png / …Template@2x.png       16/32 px black+alpha template images (macOS menu bar tints them)
//   app.png                                           512×512 application icon (packaging uses it)
// No image library: shapes are signed-distance functions in a unit square, supersampled 4×4 for smooth edges, and
// the PNG is written by hand (signature, IHDR, deflated scanlines, IEND) with node:zlib.
// Run: node scripts/make-icons.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';

const OUT = new URL('../resources/icons/', import.meta.url);

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function encodePng(size, rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  const stride = size * 4 + 1;
  const rows = Buffer.alloc(stride * size);
  for (let y = 0; y < size; y++) rgba.copy(rows, y * stride + 1, y * size * 4, (y + 1) * size * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// --- signed distance functions (negative inside), unit coordinates, y down ---
const circle = (cx, cy, r) => (x, y) => Math.hypot(x - cx, y - cy) - r;
const capsule = (ax, ay, bx, by, r) => (x, y) => {
  const px = x - ax,
    py = y - ay,
    dx = bx - ax,
    dy = by - ay;
  const t = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - dx * t, py - dy * t) - r;
};
const roundedBox = (cx, cy, hw, hh, r) => (x, y) => {
  const qx = Math.abs(x - cx) - hw + r,
    qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
};
/** Triangle from three points (any winding). */
const triangle = (a, b, c) => {
  const edges = [
    [a, b],
    [b, c],
    [c, a],
  ];
  const area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
  const sign = area > 0 ? 1 : -1;
  return (x, y) => {
    let d = -Infinity;
    for (const [p, q] of edges) {
      const ex = q[0] - p[0],
        ey = q[1] - p[1];
      const len = Math.hypot(ex, ey);
      // Distance to the edge's line, positive outside.
      d = Math.max(d, (sign * ((x - p[0]) * ey - (y - p[1]) * ex)) / len);
    }
    return d;
  };
};
/** A ring of radius r and half-width w, open over the angles where `gap(angle)` is true. */
const arc = (cx, cy, r, w, fromDeg, toDeg) => (x, y) => {
  const angle = ((Math.atan2(y - cy, x - cx) * 180) / Math.PI + 360) % 360;
  const ring = Math.abs(Math.hypot(x - cx, y - cy) - r) - w;
  const inside = fromDeg <= toDeg ? angle >= fromDeg && angle <= toDeg : angle >= fromDeg || angle <= toDeg;
  if (inside) return ring;
  // Round caps at both ends.
  const cap = (deg) =>
    circle(cx + r * Math.cos((deg * Math.PI) / 180), cy + r * Math.sin((deg * Math.PI) / 180), w)(x, y);
  return Math.min(cap(fromDeg), cap(toDeg));
};
const union =
  (...shapes) =>
  (x, y) =>
    Math.min(...shapes.map((s) => s(x, y)));

/** Fraction of the pixel (px, py) inside the shape, 4×4 supersampled. */
function coverage(shape, size, px, py) {
  let hits = 0;
  for (let sy = 0; sy < 4; sy++) {
    for (let sx = 0; sx < 4; sx++) {
      if (shape((px + (sx + 0.5) / 4) / size, (py + (sy + 0.5) / 4) / size) < 0) hits++;
    }
  }
  return hits / 16;
}

function hex(color) {
  return [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
}

// --- tray icons: a coloured disc with a white glyph; template: the disc with the glyph cut out ---
const disc = circle(0.5, 0.5, 0.46);
const GLYPHS = {
  // An eye: the agent is watching and talking to its server.
  connected: circle(0.5, 0.5, 0.17),
  // A three-quarter ring: working on it.
  connecting: arc(0.5, 0.5, 0.22, 0.075, 300, 200),
  // A dash: nothing gets through.
  offline: capsule(0.27, 0.5, 0.73, 0.5, 0.085),
  // An exclamation mark: someone needs to look.
  attention: union(capsule(0.5, 0.24, 0.5, 0.55, 0.085), circle(0.5, 0.74, 0.09)),
  // Two bars: paused by the user.
  paused: union(capsule(0.38, 0.3, 0.38, 0.7, 0.075), capsule(0.62, 0.3, 0.62, 0.7, 0.075)),
  // A down arrow: an update is downloaded.
  update: union(capsule(0.5, 0.22, 0.5, 0.5, 0.075), triangle([0.27, 0.47], [0.73, 0.47], [0.5, 0.77])),
};
const COLORS = {
  connected: '#1f9d55',
  connecting: '#d69e2e',
  offline: '#718096',
  attention: '#e53e3e',
  paused: '#3182ce',
  update: '#805ad5',
};

function trayIcon(state, size, template) {
  const rgba = Buffer.alloc(size * size * 4);
  const [r, g, b] = hex(COLORS[state]);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const base = coverage(disc, size, x, y);
      const glyph = coverage(GLYPHS[state], size, x, y);
      const i = (y * size + x) * 4;
      if (template) {
        // Template images carry shape in alpha only; the glyph is a hole the menu bar shows through.
        rgba[i + 3] = Math.round(255 * Math.max(0, base - glyph));
      } else {
        rgba[i] = Math.round(r + (255 - r) * glyph);
        rgba[i + 1] = Math.round(g + (255 - g) * glyph);
        rgba[i + 2] = Math.round(b + (255 - b) * glyph);
        rgba[i + 3] = Math.round(255 * base);
      }
    }
  }
  return encodePng(size, rgba);
}

// --- app icon: a rounded square with a goggle eye ---
function appIcon(size) {
  const rgba = Buffer.alloc(size * size * 4);
  const tile = roundedBox(0.5, 0.5, 0.44, 0.44, 0.2);
  const strap = roundedBox(0.5, 0.46, 0.44, 0.055, 0.0);
  const goggle = circle(0.5, 0.46, 0.25);
  const lens = circle(0.5, 0.46, 0.19);
  const pupil = circle(0.5, 0.46, 0.085);
  const glint = circle(0.535, 0.425, 0.025);
  const smile = arc(0.5, 0.64, 0.15, 0.02, 40, 140);
  const top = hex('#4c7ef3');
  const bottom = hex('#2a4fb0');
  const layers = [
    [strap, hex('#1a202c')],
    [goggle, hex('#a0aec0')],
    [lens, hex('#ffffff')],
    [pupil, hex('#2d3748')],
    [glint, hex('#ffffff')],
    [smile, hex('#ffffff')],
  ];
  for (let y = 0; y < size; y++) {
    const t = y / (size - 1);
    for (let x = 0; x < size; x++) {
      const alpha = coverage(tile, size, x, y);
      let color = top.map((c, k) => c + (bottom[k] - c) * t);
      for (const [shape, layerColor] of layers) {
        const cov = alpha > 0 ? coverage(shape, size, x, y) * alpha : 0;
        if (cov > 0) color = color.map((c, k) => c + (layerColor[k] - c) * cov);
      }
      const i = (y * size + x) * 4;
      rgba[i] = Math.round(color[0]);
      rgba[i + 1] = Math.round(color[1]);
      rgba[i + 2] = Math.round(color[2]);
      rgba[i + 3] = Math.round(255 * alpha);
    }
  }
  return encodePng(size, rgba);
}

mkdirSync(OUT, { recursive: true });
const written = [];
for (const state of Object.keys(GLYPHS)) {
  for (const [suffix, size] of [
    ['', 16],
    ['@2x', 32],
  ]) {
    for (const template of [false, true]) {
      const name = `tray-${state}${template ? 'Template' : ''}${suffix}.png`;
      writeFileSync(new URL(name, OUT), trayIcon(state, size, template));
      written.push(name);
    }
  }
}
// Windows: one multi-size .ico per state (PNG-compressed entries, Vista+), so the notification area picks a sharp
// image at every display scale (16 px at 100 %, 20/24 px at 125/150 %, 32 px and up beyond) instead of scaling one.
const ICO_SIZES = [16, 20, 24, 32, 40, 48];
function encodeIco(images) {
  const header = Buffer.alloc(6 + 16 * images.length);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2); // icon
  header.writeUInt16LE(images.length, 4);
  let offset = header.length;
  images.forEach(({ size, png }, i) => {
    const entry = 6 + 16 * i;
    header.writeUInt8(size >= 256 ? 0 : size, entry);
    header.writeUInt8(size >= 256 ? 0 : size, entry + 1);
    header.writeUInt16LE(1, entry + 4); // planes
    header.writeUInt16LE(32, entry + 6); // bits per pixel
    header.writeUInt32LE(png.length, entry + 8);
    header.writeUInt32LE(offset, entry + 12);
    offset += png.length;
  });
  return Buffer.concat([header, ...images.map((image) => image.png)]);
}
for (const state of Object.keys(GLYPHS)) {
  const name = `tray-${state}.ico`;
  writeFileSync(
    new URL(name, OUT),
    encodeIco(ICO_SIZES.map((size) => ({ size, png: trayIcon(state, size, false) }))),
  );
  written.push(name);
}
writeFileSync(new URL('app.png', OUT), appIcon(512));
written.push('app.png');
console.log(`wrote ${written.length} images to resources/icons/`);
