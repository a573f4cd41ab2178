import { describe, expect, it } from 'vitest';
import { GROUP_KEY_MASK, parseAgentConfig, redactConfig } from '../../src-shared/config';
import { formatAgo, formatBytes, formatDuration, hexDump, numericValue } from '../../src-renderer/format';
import { EMPTY_LOG_FILTER, logPredicate } from '../../src-renderer/views/log-filter';
import {
  buildPatch,
  getPath,
  isFirstRun,
  numberFromInput,
  setPath,
  validateDraft,
} from '../../src-renderer/views/settings-model';
import { telemetryPanels } from '../../src-renderer/views/telemetry-model';
import { explainUpdateError } from '../../src-renderer/views/update-errors';
import type { LogLineView } from '../../src-shared/view-models';

describe('settings model', () => {
  const effective = () =>
    redactConfig(
      parseAgentConfig({ streamserver_host: 'h', group_id: 'g', group_key: 'secret' }).config,
    ) as unknown as Record<string, unknown>;

  it('validates the draft with the shared schema: a bad port is reported on its own path', () => {
    const draft = setPath(effective(), 'streamserver_port', 70000);
    expect(validateDraft(draft).get('streamserver_port')).toMatch(/between 1 and 65535/);
    expect(
      validateDraft(setPath(effective(), 'streamserver_port', numberFromInput('abc'))).has(
        'streamserver_port',
      ),
    ).toBe(true);
    expect(validateDraft(effective()).size).toBe(0);
  });

  it('patches only changed keys and never sends the key mask', () => {
    const original = effective();
    expect(original.group_key).toBe(GROUP_KEY_MASK);
    let draft = setPath(original, 'tls.enabled', true);
    draft = setPath(draft, 'streamserver_port', 4000);
    expect(getPath(original, 'tls.enabled')).toBe(false); // setPath copies, never mutates
    expect(buildPatch(original, draft, [])).toEqual({ 'tls.enabled': true, streamserver_port: 4000 });
    expect(buildPatch(original, setPath(draft, 'group_key', 'new-key'), [])).toMatchObject({
      group_key: 'new-key',
    });
    // Not editable per the view: dropped.
    expect(buildPatch(original, draft, ['streamserver_port'])).toEqual({ streamserver_port: 4000 });
  });

  it('detects first run by the missing server host', () => {
    expect(isFirstRun(parseAgentConfig({}).config as unknown as Record<string, unknown>)).toBe(true);
    expect(isFirstRun(effective())).toBe(false);
  });
});

describe('log filter', () => {
  const lines: LogLineView[] = [
    { id: 1, at: 1, source: 'shipped', service: 'nginx', level: 'debug', message: 'GET /' },
    { id: 2, at: 2, source: 'agent', service: 'minion-agent', level: 'warn', message: 'Reconnecting' },
    { id: 3, at: 3, source: 'shipped', service: 'app', level: 'error', message: 'Boom in worker' },
  ];
  it('combines source, service, minimum level and case-insensitive text', () => {
    expect(lines.filter(logPredicate(EMPTY_LOG_FILTER))).toHaveLength(3);
    expect(lines.filter(logPredicate({ ...EMPTY_LOG_FILTER, minLevel: 'warn' })).map((l) => l.id)).toEqual([
      2, 3,
    ]);
    expect(lines.filter(logPredicate({ ...EMPTY_LOG_FILTER, source: 'agent' })).map((l) => l.id)).toEqual([
      2,
    ]);
    expect(lines.filter(logPredicate({ ...EMPTY_LOG_FILTER, text: 'boom' })).map((l) => l.id)).toEqual([3]);
    expect(lines.filter(logPredicate({ ...EMPTY_LOG_FILTER, service: 'nginx', minLevel: 'info' }))).toEqual(
      [],
    );
  });
});

describe('telemetry panels', () => {
  it('charts numeric series, draws disks from df JSON, and keeps unparseable readings as text', () => {
    const panels = telemetryPanels({
      load_avg: [
        { at: 1, name: 'load_avg', values: ['load_avg', '0.5'] },
        { at: 2, name: 'load_avg', values: ['load_avg', ''] },
        { at: 3, name: 'load_avg', values: ['load_avg', '0.75'] },
      ],
      memory: [{ at: 1, name: 'memory', values: ['mem_used_kb', '2048'] }],
      disk_usage: [
        {
          at: 1,
          name: 'disk_usage',
          values: ['JSON:{"disk_usage":[{"mounted":"/","capacity":"42%","1024-blocks":"100","used":"42"}]}'],
        },
      ],
      pick_files: [{ at: 1, name: 'pick_files', values: ['JSON:{"a":1}'] }],
    });
    const byName = Object.fromEntries(panels.map((p) => [p.name, p]));
    expect(byName.load_avg).toMatchObject({ kind: 'series', values: [0.5, 0.75], latest: '0.75' });
    expect(byName.memory).toMatchObject({ kind: 'series', latest: '2.0 MiB' });
    expect(byName.disk_usage).toMatchObject({ kind: 'disks', disks: [{ mount: '/', usedPercent: 42 }] });
    expect(byName.pick_files).toMatchObject({ kind: 'text' });
  });
});

describe('formatters', () => {
  it('format sizes, durations, ages and hex the way the views show them', () => {
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(null)).toBe('—');
    expect(formatDuration(65_000)).toBe('1 min 05 s');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3 d 4 h');
    expect(formatAgo(9_500, 10_000)).toBe('just now');
    expect(formatAgo(5_000, 10_000)).toBe('5 s ago');
    // The ASCII column starts at a fixed offset (8 + 16×3 − 1 + 2) whatever the row length.
    expect(hexDump('4c 41')).toMatch(/^000000 {2}4c 41 +LA$/);
    expect(hexDump('4c 41').indexOf('LA')).toBe(57);
    expect(hexDump('00'.repeat(20)).split('\n')[1]).toMatch(/^000010 {2}00 00 00 00 +\.{4}$/);
    expect(numericValue(['x', '1.5', ''])).toBe(1.5);
    expect(numericValue(['x'])).toBeNull();
  });

  it('explains common updater errors', () => {
    expect(explainUpdateError('getaddrinfo ENOTFOUND updates.example').explanation).toMatch(
      /could not be resolved/,
    );
    expect(explainUpdateError('sha512 checksum mismatch').explanation).toMatch(/checksum/);
    expect(explainUpdateError('weird').explanation).toBe('The update failed.');
  });
});
