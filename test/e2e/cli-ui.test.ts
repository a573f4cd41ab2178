/**
 * `minion-agent run --ui` as shipped: the bundled CLI (dist/cli, built by `npm test`'s build step) prints a one-time
 * URL; Chromium opens it and sees the dashboard connected to a sandbox server through the WebSocket bridge.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { SandboxServer } from '../../src-main/sandbox/sandbox-server';
import {
  ARTIFACTS_DIR,
  CHROMIUM_FLAGS,
  CHROMIUM_PATH,
  launchChromium,
  TRAY_VIEWPORT,
} from './support/harness';
import { REPO_ROOT } from './support/preload-bundle';
import { ensureRendererBuilt } from './support/renderer-build';
import { requireBuiltBundle } from '../support/built-bundle';

const CLI = join(REPO_ROOT, 'dist/cli/minion-agent.js');
const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function waitForUrl(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`no dashboard URL within ${timeoutMs} ms; output:\n${seen}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const match = /http:\/\/127\.0\.0\.1:\d+\/\S*token=\S+/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match[0]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`minion-agent exited with ${code}; output:\n${seen}`)));
  });
}

/** `minion-agent <args>`: resolves with the exit code and both outputs. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/**
 * A sandbox server for `group`, and `minion-agent run --ui` (dashboard on a free port) configured for it in a fresh
 * folder. After the file the agent is stopped first, then the server; then the folder goes.
 */
async function startAgentWithSandbox(
  dirPrefix: string,
  group: { id: string; key: string },
): Promise<{ config: string; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const sandbox = await SandboxServer.start({ port: 0, groups: [group] });
  cleanups.push(async () => {
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `streamserver_host: 127.0.0.1\nstreamserver_port: ${sandbox.address.port}\ngroup_id: ${group.id}\ngroup_key: ${group.key}\ndata_dir: ${join(dir, 'data')}\n`,
  );
  const child = spawn(process.execPath, [CLI, '--config', config, 'run', '--ui', '--ui-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => stopChild(child));
  return { config, child };
}

async function expectConnected(page: Page): Promise<void> {
  await expect
    .poll(() => page.locator('.app-header .state-badge').getAttribute('data-state'), { timeout: 20_000 })
    .toBe('connected');
}

describe('minion-agent run --ui', () => {
  it('serves the dashboard on 127.0.0.1 from the printed token URL', async () => {
    // `npm test` builds before vitest; a missing or stale bundle must fail here, not skip silently.
    requireBuiltBundle(['dist/cli/minion-agent.js']);
    await ensureRendererBuilt();
    const { child } = await startAgentWithSandbox('minion-cli-ui-', {
      id: 'cli-group',
      key: 'cli-key-0123456789',
    });
    const url = await waitForUrl(child, 20_000);
    expect(new URL(url).hostname).toBe('127.0.0.1');

    const chromium = await launchChromium();
    cleanups.push(() => chromium.close());
    const page = await chromium.context.newPage();
    await page.setViewportSize(TRAY_VIEWPORT);
    await page.goto(url);
    await expect
      .poll(() => page.locator('.app-header .state-badge').getAttribute('data-state'), { timeout: 20_000 })
      .toBe('connected');
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'cli-ui-overview-tray.png') });
    // The token is traded for a session cookie and removed from the address bar.
    expect(page.url()).not.toContain('token=');
  }, 90_000);

  it('first run with no config: the setup card, and no warning lines while it waits to be configured', async () => {
    requireBuiltBundle(['dist/cli/minion-agent.js']);
    await ensureRendererBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'minion-cli-first-run-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'config.yml');
    const child = spawn(
      process.execPath,
      [CLI, '--config', config, 'run', '--ui', '--ui-port', '0', '--data-dir', join(dir, 'data')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    cleanups.push(() => stopChild(child));
    const url = await waitForUrl(child, 20_000);
    const chromium = await launchChromium();
    cleanups.push(() => chromium.close());
    const page = await chromium.context.newPage();
    await page.setViewportSize(TRAY_VIEWPORT);
    await page.goto(url);
    await page.getByTestId('first-run').waitFor({ timeout: 20_000 });
    expect(await page.getByRole('heading', { name: 'Connect to your StreamServer' }).count()).toBe(1);
    // The agent's log: it said what it waits for, and the telemetry run at start (and everything else) stayed quiet.
    await expect.poll(() => output, { timeout: 20_000 }).toMatch(/INFO +waiting for the settings/);
    const logLines = output
      .split('\n')
      .filter((l) => /^\d{4}-\d\d-\d\dT\S+ (DEBUG|INFO |WARN |ERROR)/.test(l));
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((l) => / (WARN |ERROR) /.test(l))).toEqual([]);
    expect(existsSync(config)).toBe(true);
  }, 90_000);

  it('`minion-agent ui` lets the owner back in: a fresh browser gets in, old links are refused, a reload keeps working', async () => {
    requireBuiltBundle(['dist/cli/minion-agent.js']);
    await ensureRendererBuilt();
    const { config, child } = await startAgentWithSandbox('minion-cli-ui-link-', {
      id: 'link-group',
      key: 'link-key-0123456789',
    });
    const printed = await waitForUrl(child, 20_000);

    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
    cleanups.push(() => browser.close());
    /** A browser with nothing in it (no cookie from an earlier visit). */
    const freshBrowser = async (): Promise<Page> => {
      const context = await browser.newContext({ viewport: TRAY_VIEWPORT });
      return context.newPage();
    };

    // The owner opens the printed link, then closes the tab (and with it the session's browser).
    const first = await freshBrowser();
    await first.goto(printed);
    await expectConnected(first);
    await first.context().close();

    // The printed link was spent: another browser is refused and told how to get a new one.
    const replay = await freshBrowser();
    const refused = await replay.goto(printed);
    expect(refused?.status()).toBe(403);
    expect(await replay.locator('body').innerText()).toContain('minion-agent ui');

    // Two fresh links: the second revokes the first although the first was never opened.
    const unused = await cli(['--config', config, 'ui']);
    expect(unused.code, unused.stderr).toBe(0);
    const fresh = await cli(['--config', config, 'ui']);
    expect(fresh.code, fresh.stderr).toBe(0);
    const unusedLink = unused.stdout.trim();
    const freshLink = fresh.stdout.trim();
    expect(new URL(freshLink).origin).toBe(new URL(printed).origin);
    expect(freshLink).not.toBe(unusedLink);
    expect((await replay.goto(unusedLink))?.status()).toBe(403);
    await replay.context().close();

    const owner = await freshBrowser();
    await owner.goto(freshLink);
    await expectConnected(owner);
    expect(owner.url()).not.toContain('token=');
    // The session cookie keeps a reload working (the token is long gone from the address bar).
    await owner.reload();
    await expectConnected(owner);
    await owner.screenshot({ path: join(ARTIFACTS_DIR, 'cli-ui-fresh-link-tray.png') });
    // …while the link itself, used once, opens nothing more.
    const again = await freshBrowser();
    expect((await again.goto(freshLink))?.status()).toBe(403);

    // With the agent stopped, `ui` says so instead of printing a dead link.
    await stopChild(child);
    const stopped = await cli(['--config', config, 'ui']);
    expect(stopped.code).toBe(1);
    expect(stopped.stdout).toBe('');
    expect(stopped.stderr).toMatch(/no running agent serves a dashboard/);
  }, 120_000);
});
