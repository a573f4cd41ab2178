import { afterEach, describe, expect, it } from 'vitest';
import { runTestCommand } from '../../../src-main/cli/commands/test';
import { type SandboxServer, startSandboxServer } from '../../../src-main/sandbox/sandbox-server';
import { freePort, GROUP_ID, GROUP_KEY, managerOptions } from '../../support/connection-helpers';

let server: SandboxServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function run(
  overrides: Parameters<typeof managerOptions>[1],
  port?: number,
): Promise<{ code: number; lines: string[] }> {
  server ??= await startSandboxServer({ groups: [{ id: GROUP_ID, key: GROUP_KEY }] });
  const lines: string[] = [];
  const code = await runTestCommand(managerOptions(port ?? server.address.port, overrides), (l) =>
    lines.push(l),
  );
  return { code, lines };
}

describe('minion-agent test', () => {
  it('exits 0 with one OK line when the key is accepted', async () => {
    const { code, lines } = await run({});
    expect(code).toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^OK: 127\.0\.0\.1:\d+ accepted group test-group-2 \/ server [0-9a-f-]{36} in \d+ ms$/,
    );
  });

  it('exits 1 with the explanation and hint when denied, without printing the key', async () => {
    const { code, lines } = await run({ groupKey: 'a-wrong-key' });
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^FAILED \(denied\) after \d+ ms: Server answered 'denied'.*check the group key/,
    );
    expect(lines[0]).not.toContain('a-wrong-key');
  });

  it('exits 1 for an unknown group (no reply) and for an unreachable server', async () => {
    const silent = await run({ groupId: 'unknown', authTimeoutMs: 150 });
    expect(silent.code).toBe(1);
    expect(silent.lines[0]).toMatch(/^FAILED \(no-auth-reply\).*group is not known to the server/);
    const down = await run({}, await freePort());
    expect(down.code).toBe(1);
    expect(down.lines[0]).toMatch(/^FAILED \(unreachable\).*ECONNREFUSED/);
  });
});
