import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RENDERER_CSP_META } from '../../src-shared/csp';

const html = readFileSync(join(__dirname, '../../src-renderer/index.html'), 'utf8');

describe('src-renderer/index.html', () => {
  it('carries exactly the shared strict CSP', () => {
    const meta = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html);
    expect(meta?.[1]).toBe(RENDERER_CSP_META);
    expect(RENDERER_CSP_META).not.toMatch(/unsafe-inline|unsafe-eval/);
  });

  it('has no inline scripts or styles (the CSP would block them)', () => {
    for (const script of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
      expect(script[1]).toMatch(/\bsrc=/);
      expect(script[2]?.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\sstyle=/);
  });
});
