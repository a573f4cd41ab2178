/**
 * The dashboard in headless Chromium with the real preload, real invoke handlers and event batcher, over a scripted
 * core (exact values on screen). Also writes the screenshots of every view at tray and full size.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgentCore, FakeUpdates } from './support/fake-core';
import { FULL_VIEWPORT, runAxe, startE2E, TRAY_VIEWPORT, type E2E } from './support/harness';

let e2e: E2E;

beforeAll(async () => {
  e2e = await startE2E();
}, 120_000);

afterAll(async () => {
  await e2e?.close();
});

const VIEWS = [
  'Overview',
  'Logs',
  'Messages',
  'Commands',
  'Telemetry',
  'Settings',
  'Updates',
  'Console',
] as const;

describe('dashboard over a scripted core', () => {
  it('shows the connection state and follows connection events', async () => {
    const core = new FakeAgentCore();
    const d = await e2e.open({ core, updates: new FakeUpdates() });
    try {
      const badge = d.page.locator('.app-header .state-badge');
      await expect.poll(() => badge.textContent()).toBe('Connected');
      expect(await d.page.getByTestId('server-address').textContent()).toBe('127.0.0.1:47990');

      core.setConnection({
        state: 'denied',
        explanation: "Server answered 'denied'.",
        fixHint: 'Check the group key.',
        connectedSince: null,
        offlineSince: Date.now(),
      });
      await expect.poll(() => badge.textContent()).toBe('Denied');
      expect(await d.page.getByTestId('conn-fix-hint').textContent()).toBe('Fix: Check the group key.');

      await d.page.getByRole('button', { name: 'Pause' }).click();
      await expect.poll(() => badge.textContent()).toBe('Paused');
      expect(d.invokes.map((i) => i.channel)).toContain('agent:pause');
      expect(d.problems).toEqual([]);
    } finally {
      await d.close();
    }
  });

  it('switches views with clicks and arrow keys (roving tabindex)', async () => {
    const d = await e2e.open({ core: new FakeAgentCore(), updates: new FakeUpdates() });
    try {
      await d.page.getByRole('tab', { name: 'Logs' }).click();
      await expect.poll(() => d.page.getByTestId('log-row').count()).toBeGreaterThan(5);
      expect(await d.page.getByRole('tab', { name: 'Logs' }).getAttribute('aria-selected')).toBe('true');

      await d.page.getByRole('tab', { name: 'Logs' }).focus();
      await d.page.keyboard.press('ArrowRight');
      const messages = d.page.getByRole('tab', { name: 'Messages' });
      expect(await messages.getAttribute('aria-selected')).toBe('true');
      expect(await messages.getAttribute('tabindex')).toBe('0');
      expect(await d.page.getByRole('tab', { name: 'Logs' }).getAttribute('tabindex')).toBe('-1');
      await expect.poll(() => d.page.getByTestId('queued-log').textContent()).toBe('12');
      await d.page.keyboard.press('End');
      expect(await d.page.getByRole('tab', { name: 'Console' }).getAttribute('aria-selected')).toBe('true');
    } finally {
      await d.close();
    }
  });

  it('filters logs by service and text, and shows live lines', async () => {
    const core = new FakeAgentCore({ logLines: 400 });
    const d = await e2e.open({ core, updates: new FakeUpdates(), view: 'logs' });
    try {
      const count = d.page.getByTestId('log-count');
      await expect.poll(() => count.textContent()).toContain('400 of 400 lines');
      await d.page.getByLabel('Service').selectOption('postgres');
      await expect.poll(() => count.textContent()).toContain('100 of 400 lines');
      await d.page.getByLabel('Search logs').fill('line 398');
      await expect.poll(() => count.textContent()).toContain('1 of 400 lines');
      await d.page.getByLabel('Search logs').fill('');
      await d.page.getByLabel('Service').selectOption('');

      core.addLog({
        at: Date.now(),
        source: 'shipped',
        service: 'nginx',
        level: 'error',
        message: 'upstream timed out: live line',
      });
      await expect.poll(() => d.page.getByText('upstream timed out: live line').count()).toBe(1);
      await d.page.getByRole('button', { name: 'Pause autoscroll' }).click();
      await expect.poll(() => count.textContent()).toContain('autoscroll paused');
    } finally {
      await d.close();
    }
  });

  it('holds 100,000 lines: scrolls to the oldest with the keyboard and follows again on request', async () => {
    const d = await e2e.open({
      core: new FakeAgentCore({ logLines: 0 }),
      updates: new FakeUpdates(),
      view: 'logs',
    });
    try {
      await d.page.getByTestId('log-count').waitFor();
      // Built inside the page and pushed through the preload's event path: serializing 100k objects over the
      // DevTools protocol would test Playwright, not the dashboard.
      await d.page.evaluate((total) => {
        const emit = (globalThis as unknown as { __minionEmit: (c: string, p: unknown) => number })
          .__minionEmit;
        for (let i = 0; i < total; i += 10_000) {
          const chunk = [];
          for (let j = i; j < i + 10_000; j += 1) {
            chunk.push({
              id: j + 1,
              at: Date.now(),
              source: 'shipped',
              service: 'bulk',
              level: 'info',
              message: `bulk line #${j}#`,
            });
          }
          emit('event:logs', chunk);
        }
      }, 100_000);
      await expect
        .poll(() => d.page.getByTestId('log-count').textContent())
        .toContain('100,000 of 100,000 lines');
      await expect.poll(() => d.page.getByText('bulk line #99999#').count()).toBe(1);
      // Only a window of rows is in the DOM, whatever the line count.
      expect(await d.page.getByTestId('log-row').count()).toBeLessThan(100);

      await d.page.getByRole('region', { name: 'Log lines' }).focus();
      await d.page.keyboard.press('Home');
      await expect.poll(() => d.page.getByText('bulk line #0#').count()).toBe(1);
      await expect.poll(() => d.page.getByTestId('log-count').textContent()).toContain('autoscroll paused');

      await d.page.getByRole('button', { name: 'Resume autoscroll' }).click();
      await expect.poll(() => d.page.getByText('bulk line #99999#').count()).toBe(1);
    } finally {
      await d.close();
    }
  });

  it('rejects a bad port inline and saves a good one', async () => {
    const core = new FakeAgentCore();
    const d = await e2e.open({ core, updates: new FakeUpdates(), view: 'settings' });
    try {
      const port = d.page.getByLabel('Port', { exact: true });
      await port.fill('70000');
      await expect
        .poll(() => d.page.locator('.field.has-error').first().textContent())
        .toContain('between 1 and 65535');
      expect(await port.getAttribute('aria-invalid')).toBe('true');
      expect(await d.page.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
      expect(core.saved).toEqual([]);

      await port.fill('47999');
      await d.page.getByRole('button', { name: 'Save' }).click();
      await expect.poll(() => d.page.getByTestId('settings-status').textContent()).toContain('Saved.');
      expect(core.saved).toEqual([{ streamserver_port: 47999 }]);

      await d.page.getByRole('button', { name: 'Test connection' }).click();
      await expect
        .poll(() => d.page.getByTestId('settings-status').textContent())
        .toContain('Connection works');
    } finally {
      await d.close();
    }
  });

  it('first run lands on Settings with the sandbox offer', async () => {
    let started = 0;
    const d = await e2e.open({
      core: new FakeAgentCore({ firstRun: true }),
      updates: new FakeUpdates(),
      startSandbox: async () => {
        started += 1;
        return { host: '127.0.0.1', port: 40000, groupId: 'sandbox' };
      },
    });
    try {
      await d.page.getByTestId('first-run').waitFor();
      expect(await d.page.getByRole('tab', { name: 'Settings' }).getAttribute('aria-selected')).toBe('true');
      await d.page.getByRole('button', { name: 'Try with a local sandbox server' }).click();
      await expect
        .poll(() => d.page.getByTestId('settings-status').textContent())
        .toContain('127.0.0.1:40000');
      expect(started).toBe(1);
    } finally {
      await d.close();
    }
  });

  it('approves an ask command and shows its output', async () => {
    const core = new FakeAgentCore();
    const d = await e2e.open({ core, updates: new FakeUpdates(), view: 'commands' });
    try {
      core.requestApproval(['uptime', '-p']);
      const approval = d.page.getByTestId('approval');
      await approval.waitFor();
      expect(await approval.textContent()).toContain('uptime -p');
      expect(await d.page.getByRole('tab', { name: /Commands/ }).textContent()).toContain('1');
      await approval.getByRole('button', { name: 'Approve' }).click();
      await expect.poll(() => approval.count()).toBe(0);
      const row = d.page.getByTestId('command-row').first();
      // The decided record arrives with the next event batch (≤ 100 ms), after the approval card is gone.
      await expect.poll(() => row.textContent()).toContain('approved');
      await row.getByRole('button').click();
      await expect
        .poll(() => d.page.getByTestId('cmd-stdout').first().textContent())
        .toContain('ran: uptime -p');
    } finally {
      await d.close();
    }
  });

  it('shows update download progress from update events', async () => {
    const updates = new FakeUpdates();
    const d = await e2e.open({ core: new FakeAgentCore(), updates, view: 'updates' });
    try {
      await d.page.getByRole('button', { name: 'Check now' }).click();
      await expect.poll(() => d.page.getByTestId('available-version').textContent()).toBe('0.4.0');
      updates.set({ state: 'downloading', percent: 42, transferred: 35_280_000, bytesPerSecond: 2_000_000 });
      await expect
        .poll(() =>
          d.page.getByRole('progressbar', { name: 'Update download' }).getAttribute('aria-valuenow'),
        )
        .toBe('42');
      expect(await d.page.getByTestId('download-progress').textContent()).toContain('42%');
      updates.set({ state: 'ready', percent: 100 });
      await expect
        .poll(() => d.page.getByRole('button', { name: 'Install and restart' }).isEnabled())
        .toBe(true);
      updates.set({ state: 'error', error: 'sha512 checksum mismatch' });
      await expect
        .poll(() => d.page.getByRole('alert').textContent())
        .toContain('did not match its published checksum');
    } finally {
      await d.close();
    }
  });

  it('console shows frames, details in hex, and sends REPL lines', async () => {
    const core = new FakeAgentCore();
    const d = await e2e.open({ core, updates: new FakeUpdates(), view: 'console' });
    try {
      core.addWire('in', ['C', '0000018f-cccc-7000-8000-000000000001', ['demo', 'srv', 'uptime']]);
      await d.page.getByTestId('wire-row').first().waitFor();
      await d.page.getByLabel('Frame to send (REPL syntax)').fill('log::app::hello from the console');
      await d.page.getByRole('button', { name: 'Send' }).click();
      await expect.poll(() => d.page.getByTestId('console-result').textContent()).toContain('Sent 1 frame');
      expect(core.consoleLines).toEqual(['log::app::hello from the console']);
      await expect.poll(() => d.page.getByTestId('wire-row').count()).toBe(2);
      await d.page.getByLabel('Verb').selectOption('L');
      await expect.poll(() => d.page.getByTestId('wire-row').count()).toBe(1);
      await d.page.getByTestId('wire-row').first().click();
      expect(await d.page.getByTestId('wire-details').textContent()).toContain('hello from the console');
      await d.page.getByTestId('wire-details').getByRole('button', { name: 'Hex' }).click();
      expect(await d.page.locator('.hex').textContent()).toMatch(/^000000 {2}93 a1 4c/);
    } finally {
      await d.close();
    }
  });

  it('every view at tray and full size: screenshots, no CSP errors, no serious axe violations', async () => {
    for (const [size, viewport] of [
      ['tray', TRAY_VIEWPORT],
      ['full', FULL_VIEWPORT],
    ] as const) {
      for (const scheme of ['light', 'dark'] as const) {
        if (scheme === 'dark' && size === 'tray') continue; // one dark set is enough to look at
        const core = new FakeAgentCore({ logLines: 2000 });
        const d = await e2e.open({ core, updates: new FakeUpdates(), viewport, colorScheme: scheme });
        try {
          core.requestApproval(['systemctl', 'restart', 'nginx'], 45_000);
          for (const view of VIEWS) {
            await d.page.getByRole('tab', { name: new RegExp(`^${view}`) }).click();
            await d.page.locator(`#panel-${view.toLowerCase()}`).waitFor();
            await d.page.waitForTimeout(150);
            await d.screenshot(`${view.toLowerCase()}-${size}${scheme === 'dark' ? '-dark' : ''}`);
            // Both schemes: contrast problems differ between light and dark.
            const serious = (await runAxe(d.page)).filter(
              (v) => v.impact === 'serious' || v.impact === 'critical',
            );
            expect(serious, `${view} at ${size} (${scheme})`).toEqual([]);
          }
          const horizontalOverflow = await d.page.evaluate(() => {
            const doc = (
              globalThis as unknown as {
                document: { documentElement: { scrollWidth: number; clientWidth: number } };
              }
            ).document;
            return doc.documentElement.scrollWidth - doc.documentElement.clientWidth;
          });
          expect(horizontalOverflow).toBeLessThanOrEqual(0);
          expect(d.problems).toEqual([]);
        } finally {
          await d.close();
        }
      }
    }
  }, 120_000);
});
