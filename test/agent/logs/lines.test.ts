import { describe, expect, it } from 'vitest';
import { cutUtf8, decodeLine, decodePrefixWithin, lineToMessages } from '../../../src-main/agent/logs/lines';

const stripMarker = (m: string) => m.replace(/ \[\d+\/(\d+|…)\]$/, '');

describe('line handling', () => {
  it('strips a trailing CR and replaces invalid UTF-8', () => {
    expect(decodeLine(Buffer.from('hello\r'))).toBe('hello');
    expect(decodeLine(Buffer.from('a\rb'))).toBe('a\rb');
    expect(decodeLine(Buffer.from([0x66, 0xff, 0x6f, 0xc3]))).toBe('f\uFFFDo\uFFFD');
    expect(decodeLine(Buffer.from([0xef, 0xbb, 0xbf, 0x41]))).toBe('A');
  });

  it('sends short lines as they are and nothing for empty lines', () => {
    expect(lineToMessages('hello', 100)).toEqual(['hello']);
    expect(lineToMessages('', 100)).toEqual([]);
  });

  it('splits long lines into marked parts within the budget, never inside a character', () => {
    const line = 'é'.repeat(150) + 'x'.repeat(77); // 377 bytes
    const parts = lineToMessages(line, 100);
    expect(parts.length).toBeGreaterThan(3);
    parts.forEach((part, i) => {
      expect(Buffer.byteLength(part)).toBeLessThanOrEqual(100);
      expect(part.endsWith(` [${i + 1}/${parts.length}]`)).toBe(true);
      expect(part).not.toContain('\uFFFD');
    });
    expect(parts.map(stripMarker).join('')).toBe(line);
  });

  it('continues the numbering after parts that were already sent', () => {
    const parts = lineToMessages('y'.repeat(150), 100, 3);
    expect(parts[0]).toMatch(/ \[3\/4\]$/);
    expect(parts[1]).toMatch(/ \[4\/4\]$/);
  });

  it('cuts UTF-8 on character boundaries', () => {
    const bytes = Buffer.from('aé€😀'); // 1 + 2 + 3 + 4 bytes
    const pieces = cutUtf8(bytes, 4);
    expect(pieces.map((p) => Buffer.from(p).toString('utf8'))).toEqual(['aé', '€', '😀']);
  });

  it('fits decoded text into a byte budget even when invalid bytes expand to U+FFFD', () => {
    const bad = Buffer.alloc(60, 0xff);
    const { text, used } = decodePrefixWithin(bad, 30);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(30);
    expect(used).toBeGreaterThan(0);
    expect(text).toBe('\uFFFD'.repeat(used));
  });
});
