/**
 * First run of `minion-agent run --ui` with no config: the REAL core (headless, config file created on the spot)
 * behind the REAL web bridge. The dashboard opens on the short setup card, the agent log stays free of warnings while
 * it waits, and host/port/group/key + Test connection + Save connect it to the sandbox server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentCore } from '../../src-main/agent/agent';
import { startWebDashboard, type WebDashboard } from '../../src-main/bridge/web-server';
import { SandboxServer } from '../../src-main/sandbox/sandbox-server';
import type { LogLineView } from '../../src-shared/view-models';
import { FakeUpdates } from './support/fake-core';
import { ARTIFACTS_DIR, FULL_VIEWPORT, launchChromium, runAxe, TRAY_VIEWPORT } from './support/harness';
import { ensureRendererBuilt } from './support/renderer-build';

const GROUP = 'first-run-group';
const KEY = 'first-run-key-0123456789';
const POLL = { timeout: 20_000, interval: 100 };

let dir: string;
let sandbox: SandboxServer;
let core: AgentCore;
let web: WebDashboard;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
const agentLog: LogLineView[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'minion-first-run-'));
  const [rendererDir, server, browser] = await Promise.all([
    ensureRendererBuilt(),
    SandboxServer.start({ port: 0, groups: [{ id: GROUP, key: KEY }] }),
    launchChromium(),
  ]);
  sandbox = server;
  chromium = browser;
  // What `run --ui` does with a config path that does not exist yet.
  core = new AgentCore({
    configPath: join(dir, 'config.yml'),
    host: 'headless',
    createConfigIfMissing: true,
    dataDir: join(dir, 'data'),
    logSink: (line) => agentLog.push(line),
  });
  await core.start();
  web = await startWebDashboard({
    core,
    updates: new FakeUpdates(),
    rendererDir,
    port: 0,
    eventIntervalMs: 100,
  });
}, 120_000);

afterAll(async () => {
  await web?.close();
  await chromium?.close();
  await core?.stop();
  await sandbox?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function openPage(
  url: string,
  viewport: { width: number; height: number },
  dark = false,
): Promise<Page> {
  const page = await chromium.context.newPage();
  await page.setViewportSize(viewport);
  await page.emulateMedia({ colorScheme: dark ? 'dark' : 'light', reducedMotion: 'reduce' });
  await page.goto(url);
  await page.locator('.app').waitFor({ timeout: 15_000 });
  return page;
}

const warnings = (): string[] =>
  agentLog.filter((l) => l.level === 'warn' || l.level === 'error').map((l) => l.message);

describe('first run in the headless dashboard', () => {
  it('opens on the setup card, stays quiet, and connects once the four settings are saved', async () => {
    const page = await openPage(web.url, TRAY_VIEWPORT);
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    try {
      const setup = page.getByTestId('first-run');
      await setup.waitFor({ timeout: 15_000 });
      expect(await page.getByRole('tab', { name: 'Settings' }).getAttribute('aria-selected')).toBe('true');
      expect(await setup.getByRole('heading').textContent()).toBe('Connect to your StreamServer');
      // Only what it takes to connect: the rest of the settings are behind one click.
      expect(await page.getByLabel('Host', { exact: true }).count()).toBe(1);
      expect(await page.getByLabel('Use TLS').count()).toBe(0);
      expect(await page.getByLabel('Interval (seconds)').count()).toBe(0);
      // The look, before anything is typed: tray and full size, light and dark (this session's cookie opens more).
      for (const [name, viewport] of [
        ['tray', TRAY_VIEWPORT],
        ['full', FULL_VIEWPORT],
      ] as const) {
        for (const dark of [false, true]) {
          const look = await openPage(`${web.origin}/`, viewport, dark);
          await look.getByTestId('first-run').waitFor({ timeout: 15_000 });
          await look.screenshot({
            path: join(ARTIFACTS_DIR, `first-run-setup-${name}-${dark ? 'dark' : 'light'}.png`),
          });
          const serious = (await runAxe(look)).filter(
            (v) => v.impact === 'serious' || v.impact === 'critical',
          );
          expect(serious, `${name} ${dark ? 'dark' : 'light'}`).toEqual([]);
          await look.close();
        }
      }

      // A while after start (the first telemetry run fires at start), the agent has logged no warning.
      await expect
        .poll(() => agentLog.some((l) => l.message.startsWith('waiting for the settings')), POLL)
        .toBe(true);
      expect(warnings()).toEqual([]);

      await page.getByRole('button', { name: /^All settings/ }).click();
      await page.getByLabel('Use TLS').waitFor();
      await page.getByRole('button', { name: 'go back to the short setup' }).click();
      await expect.poll(() => page.getByLabel('Use TLS').count(), POLL).toBe(0);

      await page.getByLabel('Host', { exact: true }).fill('127.0.0.1');
      await page.getByLabel('Port', { exact: true }).fill(String(sandbox.address.port));
      await page.getByLabel('Group', { exact: true }).fill(GROUP);
      await page.getByLabel('Group key').fill(KEY);
      await page.getByRole('button', { name: 'Test connection' }).click();
      await expect
        .poll(() => page.getByTestId('settings-status').textContent(), POLL)
        .toContain('Connection works');
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'first-run-setup-tested-tray-light.png') });
      expect(warnings()).toEqual([]);

      await page.getByRole('button', { name: 'Save' }).click();
      await expect
        .poll(() => page.locator('.app-header .state-badge').getAttribute('data-state'), POLL)
        .toBe('connected');
      await expect.poll(() => sandbox.telemetry.length, POLL).toBeGreaterThan(0);
      expect(warnings()).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
