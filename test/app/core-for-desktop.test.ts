/**
 * What the desktop hands the real AgentCore and reads back from it: the environment of server commands (the login
 * shell's PATH and the home dir, as main.ts passes them) and `activity()`, from which `updates.policy: auto` decides
 * whether now is a quiet moment to restart. Runs against the sandbox server on 127.0.0.1.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentCore } from '../../src-main/agent/agent';
import { SandboxServer } from '../../src-main/sandbox/sandbox-server';
import { isQuietMoment } from '../../src-main/updates/policy';

const GROUP = 'desktop-group';
const KEY = 'desktop-key-0123456789';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startCore(
  commandsYaml: string,
  commandDefaults?: { cwd?: string; env?: Record<string, string> },
) {
  const dir = mkdtempSync(join(tmpdir(), 'minion-desktop-core-'));
  const sandbox = await SandboxServer.start({ port: 0, groups: [{ id: GROUP, key: KEY }] });
  cleanups.push(async () => {
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const configPath = join(dir, 'config.yml');
  writeFileSync(
    configPath,
    `streamserver_host: 127.0.0.1\nstreamserver_port: ${sandbox.address.port}\ngroup_id: ${GROUP}\n` +
      `group_key: ${KEY}\ndata_dir: ${join(dir, 'data')}\n` +
      // Confirmation in a fraction of a second (the defaults take ~7 s per frame): activity() waits for it twice.
      `delivery:\n  settle_ms: 100\n  confirm_interval: 0.2\n` +
      `commands:\n  policy: allow\n${commandsYaml}`,
  );
  const core = new AgentCore({ configPath, host: 'desktop', commandDefaults });
  cleanups.push(() => core.stop());
  await core.start();
  await waitFor(() => core.snapshot().connection.state === 'connected');
  return { dir, core, sandbox, serverId: core.effectiveConfig.server_id };
}

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the core as the desktop runs it', () => {
  it("runs server commands in the home dir with the login shell's PATH", async () => {
    const home = realpathSync(mkdtempSync(join(tmpdir(), 'minion-home-')));
    cleanups.push(() => rmSync(home, { recursive: true, force: true }));
    const loginPath = `${join(home, 'bin')}:/usr/bin:/bin`;
    const { sandbox, serverId } = await startCore('', { cwd: home, env: { PATH: loginPath } });
    const result = await sandbox.dispatchCommand(serverId, 'external', ['pwd; printf "%s" "$PATH"']);
    expect(result.stdout).toBe(`${home}\n${loginPath}`);
  });

  it('commands.cwd and commands.env in the config win over the desktop defaults', async () => {
    const elsewhere = realpathSync(mkdtempSync(join(tmpdir(), 'minion-cwd-')));
    mkdirSync(join(elsewhere, 'x'), { recursive: true });
    cleanups.push(() => rmSync(elsewhere, { recursive: true, force: true }));
    const { sandbox, serverId } = await startCore(`  cwd: ${elsewhere}\n  env:\n    PATH: /usr/bin:/bin\n`, {
      cwd: '/',
      env: { PATH: '/nowhere' },
    });
    const result = await sandbox.dispatchCommand(serverId, 'external', ['pwd; printf "%s" "$PATH"']);
    expect(result.stdout).toBe(`${elsewhere}\n/usr/bin:/bin`);
  });

  it('activity() counts a running command, so an automatic update waits for it', async () => {
    const { core, sandbox, serverId } = await startCore('');
    // Once the agent's own first frames are confirmed, nothing is going on.
    await waitFor(() => isQuietMoment(core.activity()));
    const answer = sandbox.dispatchCommand(serverId, 'external', ['sleep 1; echo done']);
    await waitFor(() => core.activity().runningCommands === 1);
    expect(isQuietMoment(core.activity())).toBe(false);
    expect((await answer).stdout).toBe('done\n');
    await waitFor(() => isQuietMoment(core.activity()));
  });
});
