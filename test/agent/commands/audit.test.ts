import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuditEntry, AuditLog, auditEntryToView } from '../../../src-main/agent/commands/audit';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'audit-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function entry(i: number): AuditEntry {
  return {
    time: 1_700_000_000_000 + i,
    uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    type: 'external',
    argv: ['echo', String(i)],
    decision: 'allowed',
    exitCode: 0,
    signal: null,
    timedOut: false,
    durationMs: 3,
    stdoutBytes: 2,
    stderrBytes: 0,
    stdoutBytesCut: 0,
    stderrBytesCut: 0,
  };
}

describe('AuditLog', () => {
  it('appends JSON lines and reads them back, most recent last', () => {
    const path = join(tempDir(), 'sub', 'commands-audit.jsonl');
    const log = new AuditLog({ path, maxBytes: 1_000_000 });
    for (let i = 0; i < 5; i++) log.append(entry(i));
    const reopened = new AuditLog({ path, maxBytes: 1_000_000 });
    expect(reopened.read(3).map((e) => e.argv[1])).toEqual(['2', '3', '4']);
    expect(reopened.read(100)).toHaveLength(5);
  });

  it('rotates by size and keeps one previous generation', () => {
    const path = join(tempDir(), 'commands-audit.jsonl');
    const log = new AuditLog({ path, maxBytes: 1000 });
    for (let i = 0; i < 40; i++) log.append(entry(i));
    expect(existsSync(`${path}.1`)).toBe(true);
    const all = log.read(1000);
    expect(all.length).toBeLessThan(40);
    expect(all.at(-1)?.argv[1]).toBe('39');
    // Contiguous: nothing in the middle went missing.
    const nums = all.map((e) => Number(e.argv[1]));
    expect(nums).toEqual(nums.map((_, k) => (nums[0] ?? 0) + k));
  });

  it('skips a torn line', () => {
    const path = join(tempDir(), 'a.jsonl');
    const log = new AuditLog({ path, maxBytes: 1_000_000 });
    log.append(entry(1));
    appendFileSync(path, '{"uuid": "torn');
    expect(log.read(10)).toHaveLength(1);
  });

  it('turns an entry into a UI record', () => {
    const view = auditEntryToView({ ...entry(7), decision: 'denied', note: 'refused' });
    expect(view).toMatchObject({ decision: 'denied', state: 'done', stderr: 'refused', argv: ['echo', '7'] });
  });
});
