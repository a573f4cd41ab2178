/**
 * `minion-agent run --ui` as shipped: the bundled CLI (dist/cli, built by `npm test`'s build step) prints a one-time
 * URL; Chromium opens it and sees the dashboard connected to a sandbox server through the WebSocket bridge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SandboxServer } from '../../src-main/sandbox/sandbox-server';
import { ARTIFACTS_DIR, launchChromium, TRAY_VIEWPORT } from './support/harness';
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

describe('minion-agent run --ui', () => {
  it('serves the dashboard on 127.0.0.1 from the printed token URL', async () => {
    // `npm test` builds before vitest; a missing or stale bundle must fail here, not skip silently.
    requireBuiltBundle(['dist/cli/minion-agent.js']);
    await ensureRendererBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'minion-cli-ui-'));
    const sandbox = await SandboxServer.start({
      port: 0,
      groups: [{ id: 'cli-group', key: 'cli-key-0123456789' }],
    });
    cleanups.push(async () => {
      await sandbox.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const config = join(dir, 'config.yml');
    writeFileSync(
      config,
      `streamserver_host: 127.0.0.1\nstreamserver_port: ${sandbox.address.port}\ngroup_id: cli-group\ngroup_key: cli-key-0123456789\ndata_dir: ${join(dir, 'data')}\n`,
    );
    const child = spawn(process.execPath, [CLI, '--config', config, 'run', '--ui', '--ui-port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 5000).unref();
        }),
    );
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
});
