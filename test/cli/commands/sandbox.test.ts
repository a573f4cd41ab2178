import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionManager } from '../../../src-main/agent/connection/connection';
import { logFrame } from '../../../src-main/agent/protocol/frames';
import { runSandbox, type RunningSandbox } from '../../../src-main/cli/commands/sandbox';
import {
  GROUP_ID,
  GROUP_KEY,
  managerOptions,
  nextReady,
  SERVER_ID,
  waitFor,
} from '../../support/connection-helpers';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('minion-agent sandbox', () => {
  it('prints what it receives', async () => {
    const lines: string[] = [];
    const sandbox: RunningSandbox = await runSandbox({
      port: 0,
      groups: [{ id: GROUP_ID, key: GROUP_KEY }],
      out: (l) => lines.push(l),
    });
    cleanups.push(() => sandbox.close());
    expect(lines[0]).toMatch(/listening on 127\.0\.0\.1:\d+ \(groups: test-group-2\)/);
    const m = new ConnectionManager(managerOptions(sandbox.server.address.port));
    cleanups.push(() => m.stop());
    m.start();
    await nextReady(m);
    m.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', 'shown by the sandbox'));
    await m.barrier();
    await m.stop();
    await waitFor(() => lines.some((l) => l.includes('closed: client-reset')), 2_000, 'the close line');
    const text = lines.join('\n');
    expect(text).toMatch(/authenticate test-group-2 \/ [0-9a-f-]{36}: accepted/);
    expect(text).toMatch(/L [0-9a-f-]{36} syslog: shown by the sandbox/);
    expect(text).toMatch(/heartbeat from/);
    expect(text).not.toContain(GROUP_KEY);
  });

  it('without groups, makes one up and prints its id and key', async () => {
    const lines: string[] = [];
    const sandbox = await runSandbox({ port: 0, groups: [], out: (l) => lines.push(l) });
    cleanups.push(() => sandbox.close());
    const match = /use group_id: (\S+), group_key: ([0-9a-f]{32}), streamserver_port: (\d+)/.exec(
      lines.join('\n'),
    );
    expect(match).not.toBeNull();
    const m = new ConnectionManager(
      managerOptions(Number(match?.[3]), { groupId: match?.[1] ?? '', groupKey: match?.[2] ?? '' }),
    );
    cleanups.push(() => m.stop());
    m.start();
    expect(await nextReady(m)).toBe(1);
  });
});
