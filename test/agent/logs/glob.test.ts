import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expandGlob, isGlobPattern } from '../../../src-main/agent/logs/glob';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'minion-glob-'));
  for (const f of [
    'a.log',
    'b.log',
    'c.txt',
    '.hidden.log',
    'sub/d.log',
    'sub/deeper/e.log',
    'other/access.log',
  ]) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), '');
  }
  symlinkSync(join(dir, 'sub'), join(dir, 'loop'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('expandGlob', () => {
  it('matches one level, dot files included, sorted', () => {
    expect(expandGlob(join(dir, '*.log'))).toEqual([
      join(dir, '.hidden.log'),
      join(dir, 'a.log'),
      join(dir, 'b.log'),
    ]);
  });

  it('matches ** recursively without following directory symlinks', () => {
    expect(expandGlob(join(dir, '**', '*.log')).filter((p) => !p.includes('.hidden'))).toEqual([
      join(dir, 'a.log'),
      join(dir, 'b.log'),
      join(dir, 'other', 'access.log'),
      join(dir, 'sub', 'd.log'),
      join(dir, 'sub', 'deeper', 'e.log'),
    ]);
  });

  it('matches a wildcard directory level and braces', () => {
    expect(expandGlob(join(dir, '*', 'access.log'))).toEqual([join(dir, 'other', 'access.log')]);
    expect(expandGlob(join(dir, '{a,c}.*'))).toEqual([join(dir, 'a.log'), join(dir, 'c.txt')]);
  });

  it('tells literal paths from patterns; a missing base gives nothing', () => {
    expect(isGlobPattern('/var/log/syslog')).toBe(false);
    expect(isGlobPattern('/var/log/*.log')).toBe(true);
    expect(expandGlob('/var/log/syslog')).toEqual(['/var/log/syslog']);
    expect(expandGlob(join(dir, 'missing', '*.log'))).toEqual([]);
  });
});
