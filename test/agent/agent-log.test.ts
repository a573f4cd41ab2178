import { describe, expect, it } from 'vitest';
import { AgentLog, formatLogLine } from '../../src-main/agent/agent-log';
import { type LogLineView } from '../../src-shared/view-models';

describe('AgentLog', () => {
  it('masks registered secrets in every line and drops lines below the level', () => {
    const written: LogLineView[] = [];
    const log = new AgentLog({ level: 'info', sink: (l) => written.push(l) });
    log.addSecret('s3cr3t-key');
    log.debug('not shown');
    log.warn('auth with s3cr3t-key failed');
    log.error('boom', new Error('key s3cr3t-key rejected'));
    expect(written.map((l) => l.message)).toEqual(['auth with •••••• failed', 'boom: key •••••• rejected']);
    expect(written[0]).toMatchObject({ source: 'agent', service: 'minion-agent', level: 'warn' });
  });

  it('keeps a bounded ring of own and shipped lines, most recent last', () => {
    const log = new AgentLog({ ringSize: 10 });
    for (let i = 0; i < 50; i++) log.shipped('app', `line ${i}`);
    log.info('own');
    const recent = log.recent(5);
    expect(recent.map((l) => l.message)).toEqual(['line 46', 'line 47', 'line 48', 'line 49', 'own']);
    expect(recent[0]?.source).toBe('shipped');
    expect(log.recent(1000).length).toBeLessThanOrEqual(13);
  });

  it('records a bounded sample of shipped lines per second, and all of its own', () => {
    const log = new AgentLog({ ringSize: 100, shippedPerSecond: 3 });
    const events: string[] = [];
    log.on('line', (l) => events.push(l.message));
    for (let i = 0; i < 10; i++) log.shipped('app', `a${i}`, 5_000);
    log.info('own 1');
    for (let i = 0; i < 10; i++) log.shipped('app', `b${i}`, 5_999);
    log.shipped('app', 'next second', 6_000);
    log.info('own 2');
    expect(events).toEqual(['a0', 'a1', 'a2', 'own 1', 'next second', 'own 2']);
    expect(log.recent(100).map((l) => l.message)).toEqual(events);
  });

  it('formats text and JSON lines', () => {
    const line: LogLineView = {
      id: 1,
      at: 0,
      source: 'agent',
      service: 'minion-agent',
      level: 'info',
      message: 'hi',
    };
    expect(formatLogLine(line, 'text')).toBe('1970-01-01T00:00:00.000Z INFO  hi');
    expect(JSON.parse(formatLogLine(line, 'json'))).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'info',
      source: 'agent',
      service: 'minion-agent',
      msg: 'hi',
    });
  });
});

describe('AgentLog control characters', () => {
  it('escapes newlines, carriage returns and terminal escapes: one message is one line', () => {
    const written: LogLineView[] = [];
    const log = new AgentLog({ level: 'info', sink: (l) => written.push(l) });
    log.warn('command (echo x\n2026-12-07T00:00:00.000Z ERROR forged\r\u001b[31mred\u0000\u2028) denied');
    expect(written[0]?.message).toBe(
      'command (echo x\\n2026-12-07T00:00:00.000Z ERROR forged\\r\\x1b[31mred\\x00\\u2028) denied',
    );
    expect(formatLogLine(written[0]!, 'text').split('\n')).toHaveLength(1);
    // Tabs are not forged lines; shipped lines (tailed files) are data and stay as they are.
    log.info('a\tb');
    log.shipped('app', 'raw\u001b[0m');
    expect(log.recent(2).map((l) => l.message)).toEqual(['a\tb', 'raw\u001b[0m']);
  });
});
