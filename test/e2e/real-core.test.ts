/**
 * The dashboard against the REAL agent core and the sandbox StreamServer, through the real preload (browser shim),
 * the real invoke handlers and the real event batcher. One long scenario, because each step builds on the last.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpdates } from './support/fake-core';
import { startE2E, type Dashboard, type E2E } from './support/harness';
import { KEY, startRealEnv, type RealEnv } from './support/real-env';

let e2e: E2E;
let env: RealEnv;
let d: Dashboard;

beforeAll(async () => {
  [e2e, env] = await Promise.all([startE2E(), startRealEnv({ policy: 'ask' })]);
  d = await e2e.open({ core: env.core, updates: new FakeUpdates() });
}, 120_000);

afterAll(async () => {
  await d?.close();
  await e2e?.close();
  await env?.close();
});

const POLL = { timeout: 15_000, interval: 100 };

function queuedLogs(): Promise<number> {
  return d.page
    .getByTestId('queued-log')
    .textContent()
    .then((t) => Number((t ?? '').replace(/,/g, '')));
}

describe('dashboard over the real core and sandbox server', () => {
  it('shows connected, then the outage, then the recovery', async () => {
    const badge = d.page.locator('.app-header .state-badge');
    await expect.poll(() => badge.getAttribute('data-state'), POLL).toBe('connected');
    expect(await d.page.getByTestId('server-address').textContent()).toBe(
      `127.0.0.1:${env.sandbox.address.port}`,
    );

    await env.sandbox.stop();
    await expect.poll(() => badge.getAttribute('data-state'), POLL).not.toBe('connected');
    await d.screenshot('real-overview-outage');

    // Lines written during the outage are spooled: the queued count rises on the Messages view.
    await d.page.getByRole('tab', { name: 'Messages' }).click();
    for (let i = 0; i < 20; i += 1) env.writeLog(`written during outage ${i}`);
    await expect.poll(queuedLogs, POLL).toBeGreaterThanOrEqual(20);
    await d.screenshot('real-messages-outage');

    await env.sandbox.restart();
    await expect.poll(() => badge.getAttribute('data-state'), POLL).toBe('connected');
    await expect.poll(queuedLogs, POLL).toBe(0);
    await expect
      .poll(() => env.sandbox.logs.filter((l) => l.message.startsWith('written during outage')).length, POLL)
      .toBe(20);
  });

  it('shows lines written to a tailed file', async () => {
    await d.page.getByRole('tab', { name: 'Logs' }).click();
    env.writeLog('hello from the tailed file');
    await expect.poll(() => d.page.getByText('hello from the tailed file').count(), POLL).toBe(1);
  });

  it('charts the real telemetry and sends a REPL line from the console', async () => {
    await d.page.getByRole('tab', { name: 'Telemetry' }).click();
    await expect.poll(() => d.page.getByTestId('telemetry-load_avg').count(), POLL).toBe(1);
    await expect
      .poll(() => d.page.getByTestId('telemetry-mem_used_kb').locator('.sparkline').count(), POLL)
      .toBe(1);

    await d.page.getByRole('tab', { name: 'Console' }).click();
    await d.page.getByLabel('Frame to send (REPL syntax)').fill('log::console::hello from the console');
    await d.page.getByRole('button', { name: 'Send' }).click();
    await expect
      .poll(() => d.page.getByTestId('console-result').textContent(), POLL)
      .not.toMatch(/^Each line/);
    await expect
      .poll(
        () => env.sandbox.logs.some((l) => l.service === 'console' && l.message === 'hello from the console'),
        POLL,
      )
      .toBe(true);
    // The frame shows up in the wire inspector, decoded.
    await d.page.getByLabel('Verb').selectOption('L');
    const row = d.page.getByTestId('wire-row').filter({ hasText: 'hello from the console' });
    await expect.poll(() => row.count(), POLL).toBeGreaterThan(0);
    await row.first().click();
    expect(await d.page.getByTestId('wire-details').textContent()).toContain('console');
  });

  it('approves an ask command from the page and shows its output', async () => {
    await d.page.getByRole('tab', { name: /^Commands/ }).click();
    const serverId = env.core.effectiveConfig.server_id;
    // After the outage test: dispatch only once the agent is authenticated again.
    await expect.poll(() => env.sandbox.connectedServerIds().includes(serverId), POLL).toBe(true);
    const result = env.sandbox.dispatchCommand(serverId, 'external', ['echo', 'approved from the page'], {
      timeoutMs: 20_000,
    });
    const approval = d.page.getByTestId('approval');
    await approval.waitFor({ timeout: 15_000 });
    expect(await approval.textContent()).toContain('echo');
    await d.screenshot('real-commands-approval');
    await approval.getByRole('button', { name: 'Approve' }).click();
    const reply = await result;
    expect(JSON.stringify(reply)).toContain('approved from the page');

    const row = d.page.getByTestId('command-row').filter({ hasText: 'approved from the page' });
    await expect.poll(() => row.count(), POLL).toBe(1);
    await expect.poll(() => row.textContent(), POLL).toContain('exit 0');
    await row.getByRole('button').click();
    await expect
      .poll(() => row.getByTestId('cmd-stdout').textContent(), POLL)
      .toContain('approved from the page');
  });
  it('rejects a bad port inline and saves a valid edit to the YAML file', async () => {
    await d.page.getByRole('tab', { name: 'Settings' }).click();
    const port = d.page.getByLabel('Port', { exact: true });
    await port.waitFor();
    await port.fill('0');
    await expect.poll(() => port.getAttribute('aria-invalid')).toBe('true');
    expect(await d.page.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
    await port.fill(String(env.sandbox.address.port));
    await expect.poll(() => port.getAttribute('aria-invalid')).toBe(null);

    await d.page.getByLabel('Server name (shown locally only)').fill('e2e-box');
    await d.page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => d.page.getByTestId('settings-status').textContent(), POLL).toContain('Saved.');
    expect(readFileSync(env.configPath, 'utf8')).toMatch(/server_name: e2e-box/);

    // Last on purpose: a test handshake authenticates with the same server id, and the server (like the real one,
    // protocol.md §14) then routes commands to that short-lived connection until the agent re-authenticates.
    await d.page.getByRole('button', { name: 'Test connection' }).click();
    await expect
      .poll(() => d.page.getByTestId('settings-status').textContent(), POLL)
      .toContain('Connection works');
    expect(d.problems).toEqual([]);
  });

  it('exports the YAML (key masked in the preview) and imports an edited one', async () => {
    await d.page.getByRole('button', { name: 'Export YAML' }).click();
    const preview = d.page.getByTestId('yaml-export');
    await expect.poll(() => preview.textContent(), POLL).toContain('server_name: e2e-box');
    expect(await preview.textContent()).not.toContain(KEY);
    expect(await d.page.getByRole('link', { name: 'Download config.yml' }).getAttribute('href')).toMatch(
      /^blob:/,
    );

    const edited = env.core.exportYaml().replace('server_name: e2e-box', 'server_name: imported-box');
    await d.page
      .getByLabel('Import YAML…')
      .setInputFiles({ name: 'config.yml', mimeType: 'text/yaml', buffer: Buffer.from(edited) });
    await expect.poll(() => d.page.getByTestId('settings-status').textContent(), POLL).toContain('Saved.');
    expect(readFileSync(env.configPath, 'utf8')).toMatch(/server_name: imported-box/);
    await expect
      .poll(() => d.page.getByLabel('Server name (shown locally only)').inputValue())
      .toBe('imported-box');
    expect(d.problems).toEqual([]);
  });
});
