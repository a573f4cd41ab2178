import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMainLog } from '../../src-main/app/main-log';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('createMainLog', () => {
  it('writes timestamped lines and rotates, keeping a bounded number of files', async () => {
    dir = mkdtempSync(join(tmpdir(), 'minion-main-log-'));
    const log = createMainLog({
      dir: join(dir, 'logs'),
      maxBytes: 200,
      keep: 2,
      now: () => new Date('2026-12-07T10:00:00.000Z'),
    });
    log.info('Minion Agent starting');
    log.error('Installing the update failed', new Error('spawn EACCES'));
    for (let i = 0; i < 20; i++) log.warn(`line ${i}`);
    await log.close();
    const files = readdirSync(join(dir, 'logs')).sort();
    expect(files).toEqual(['main.log', 'main.log.1', 'main.log.2']);
    const all = files.map((f) => readFileSync(join(dir, 'logs', f), 'utf8')).join('');
    // The newest lines survive; the file rotated away beyond `keep` is gone.
    expect(all).toContain('2026-12-07T10:00:00.000Z warn line 19\n');
    expect(all).not.toContain('Minion Agent starting');
    for (const f of files) expect(readFileSync(join(dir, 'logs', f)).length).toBeLessThan(400);
  });

  it('keeps what it wrote, errors with their stack', async () => {
    dir = mkdtempSync(join(tmpdir(), 'minion-main-log-'));
    const log = createMainLog({ dir, now: () => new Date('2026-12-07T10:00:00.000Z') });
    log.error('Installing the update failed', new Error('spawn EACCES'));
    log.info({ version: '0.4.0' });
    await log.flush();
    const text = readFileSync(log.path, 'utf8');
    expect(text).toMatch(
      /^2026-12-07T10:00:00.000Z error Installing the update failed Error: spawn EACCES\n {4}at /,
    );
    expect(text).toContain('2026-12-07T10:00:00.000Z info {"version":"0.4.0"}\n');
    await log.close();
  });
});
