import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { trayIconPath } from '../../src-main/app/tray';
import { TRAY_ICON_NAMES } from '../../src-main/app/tray-menu';

const ICONS = join(__dirname, '../../resources/icons');

function readPng(file: string): { width: number; height: number; rgba: Buffer } {
  const bytes = readFileSync(file);
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  expect(bytes[24]).toBe(8); // bit depth
  expect(bytes[25]).toBe(6); // RGBA
  const idat: Buffer[] = [];
  for (let offset = 8; offset < bytes.length;) {
    const length = bytes.readUInt32BE(offset);
    if (bytes.toString('ascii', offset + 4, offset + 8) === 'IDAT')
      idat.push(bytes.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgba = Buffer.alloc(width * height * 4);
  // make-icons.mjs writes filter type 0 on every row.
  for (let y = 0; y < height; y++)
    raw.copy(rgba, y * width * 4, y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1));
  return { width, height, rgba };
}

describe('tray icon assets', () => {
  it.each(TRAY_ICON_NAMES)('%s exists at 1x and 2x, colour and template', (name) => {
    for (const platform of ['linux', 'darwin'] as const) {
      const oneX = trayIconPath(ICONS, name, platform);
      const twoX = oneX.replace(/\.png$/, '@2x.png');
      expect(existsSync(oneX), oneX).toBe(true);
      expect(readPng(oneX)).toMatchObject({ width: 16, height: 16 });
      const big = readPng(twoX);
      expect(big).toMatchObject({ width: 32, height: 32 });
      const opaque = [...Array(32 * 32).keys()].filter((i) => big.rgba[i * 4 + 3]! > 0).length;
      expect(opaque).toBeGreaterThan(300); // a real drawing, not an empty square
      if (platform === 'darwin') {
        // Template images: black, shape in alpha only.
        for (let i = 0; i < 32 * 32; i++)
          expect(big.rgba[i * 4]! + big.rgba[i * 4 + 1]! + big.rgba[i * 4 + 2]!).toBe(0);
      }
    }
  });

  it('the states look different from each other', () => {
    const images = TRAY_ICON_NAMES.map((name) =>
      readPng(trayIconPath(ICONS, name, 'darwin')).rgba.toString('hex'),
    );
    expect(new Set(images).size).toBe(TRAY_ICON_NAMES.length);
  });

  it('the app icon is 512×512', () => {
    expect(readPng(join(ICONS, 'app.png'))).toMatchObject({ width: 512, height: 512 });
  });

  it.each(TRAY_ICON_NAMES)('%s has a multi-size .ico for the Windows notification area', (name) => {
    const file = trayIconPath(ICONS, name, 'win32');
    const bytes = readFileSync(file);
    expect([bytes.readUInt16LE(0), bytes.readUInt16LE(2)]).toEqual([0, 1]);
    const count = bytes.readUInt16LE(4);
    const sizes: number[] = [];
    for (let i = 0; i < count; i++) {
      const entry = 6 + 16 * i;
      const size = bytes.readUInt8(entry);
      const length = bytes.readUInt32LE(entry + 8);
      const offset = bytes.readUInt32LE(entry + 12);
      const png = bytes.subarray(offset, offset + length);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([size, size]);
      sizes.push(size);
    }
    expect(sizes).toEqual([16, 20, 24, 32, 40, 48]);
  });
});
