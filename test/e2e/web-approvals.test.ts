/**
 * `commands.policy: ask` on a headless agent (`minion-agent run --ui`): the REAL core (host headless) behind the REAL
 * web bridge, commands sent by the sandbox StreamServer. With no dashboard session the command waits
 * `ask_timeout` and is refused saying so; with sessions open every one shows the approval card, one approves, the
 * other sees it resolved, and the output goes back to the server.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebDashboard, type WebDashboard } from '../../src-main/bridge/web-server';
import { FakeUpdates } from './support/fake-core';
import { ARTIFACTS_DIR, FULL_VIEWPORT, launchChromium, TRAY_VIEWPORT } from './support/harness';
import { ensureRendererBuilt } from './support/renderer-build';
import { startRealEnv, type RealEnv } from './support/real-env';

const ASK_TIMEOUT_S = 2;
const POLL = { timeout: 20_000, interval: 100 };

let env: RealEnv;
let web: WebDashboard;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
const pages: Page[] = [];

beforeAll(async () => {
  const [rendererDir, realEnv, browser] = await Promise.all([
    ensureRendererBuilt(),
    startRealEnv({ policy: 'ask', host: 'headless', askTimeout: ASK_TIMEOUT_S }),
    launchChromium(),
  ]);
  env = realEnv;
  chromium = browser;
  web = await startWebDashboard({
    core: env.core,
    updates: new FakeUpdates(),
    rendererDir,
    port: 0,
    eventIntervalMs: 100,
  });
}, 120_000);

afterAll(async () => {
  for (const page of pages) await page.close().catch(() => undefined);
  await web?.close();
  await chromium?.close();
  await env?.close();
});

async function authenticated(): Promise<string> {
  const serverId = env.core.effectiveConfig.server_id;
  await expect.poll(() => env.sandbox.connectedServerIds().includes(serverId), POLL).toBe(true);
  return serverId;
}

/** A dashboard page (a session of its own); the first one spends the printed token, the others share its cookie. */
async function openSession(url: string, options: { dark?: boolean; tray?: boolean } = {}): Promise<Page> {
  const page = await chromium.context.newPage();
  pages.push(page);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.setViewportSize(options.tray ? TRAY_VIEWPORT : FULL_VIEWPORT);
  await page.emulateMedia({ colorScheme: options.dark ? 'dark' : 'light', reducedMotion: 'reduce' });
  await page.goto(url);
  await page.locator('.app').waitFor({ timeout: 15_000 });
  expect(problems).toEqual([]);
  return page;
}

describe('ask approvals in the headless web dashboard', () => {
  it('with no dashboard session, waits ask_timeout and refuses saying nobody connected', async () => {
    const serverId = await authenticated();
    expect(web.clientCount()).toBe(0);
    const sentAt = Date.now();
    const reply = await env.sandbox.dispatchCommand(serverId, 'external', ['echo', 'nobody looking'], {
      timeoutMs: 20_000,
    });
    // It waited for a session (refused at once, it would not have): the whole timeout, not less.
    expect(reply.receivedAt - sentAt).toBeGreaterThanOrEqual(ASK_TIMEOUT_S * 1000 - 50);
    expect(reply.stdout).toBe('');
    expect(reply.stderr).toContain(`no dashboard session connected within ${ASK_TIMEOUT_S}s`);
    expect(reply.stderr).not.toContain('nobody looking\n');
  });

  it('shows the card in every open session; one approves, the other sees it resolved; output reaches the server', async () => {
    await env.core.saveConfig({ 'commands.ask_timeout': 60 });
    const first = await openSession(web.url);
    const second = await openSession(`${web.origin}/#commands`, { dark: true, tray: true });
    await expect.poll(() => web.clientCount(), POLL).toBe(2);

    // The earlier refusal is in the history with its reason.
    await first.getByRole('tab', { name: /^Commands/ }).click();
    const refusedRow = first.getByTestId('command-row').filter({ hasText: 'nobody looking' });
    await expect.poll(() => refusedRow.textContent(), POLL).toContain('timed-out');
    await refusedRow.getByRole('button').click();
    expect(await refusedRow.getByTestId('cmd-stderr').textContent()).toContain(
      'no dashboard session connected',
    );
    await first.getByRole('tab', { name: 'Overview' }).click();

    const serverId = await authenticated();
    const result = env.sandbox.dispatchCommand(serverId, 'external', ['echo', 'approved in the browser'], {
      timeoutMs: 30_000,
    });
    // On another view the first session gets a banner leading to the card.
    const banner = first.getByTestId('approval-banner');
    await banner.waitFor({ timeout: 15_000 });
    expect(await banner.textContent()).toContain('A command is waiting for your approval');
    await first.screenshot({ path: join(ARTIFACTS_DIR, 'web-approval-banner-full-light.png') });
    await banner.getByRole('button', { name: 'Review' }).click();

    const cardInFirst = first.getByTestId('approval');
    const cardInSecond = second.getByTestId('approval');
    await cardInFirst.waitFor({ timeout: 15_000 });
    await cardInSecond.waitFor({ timeout: 15_000 });
    expect(await cardInFirst.textContent()).toContain('echo "approved in the browser"');
    expect(await cardInSecond.textContent()).toContain('echo "approved in the browser"');
    await first.screenshot({ path: join(ARTIFACTS_DIR, 'web-approval-card-full-light.png') });
    await second.screenshot({ path: join(ARTIFACTS_DIR, 'web-approval-card-tray-dark.png') });

    await cardInFirst.getByRole('button', { name: 'Approve' }).click();
    const reply = await result;
    expect(reply.stdout).toBe('approved in the browser\n');
    expect(reply.stderr).toBe('');

    // The second session: the card is gone and the history says what happened.
    await expect.poll(() => cardInSecond.count(), POLL).toBe(0);
    const rowInSecond = second.getByTestId('command-row').filter({ hasText: 'approved in the browser' });
    await expect.poll(() => rowInSecond.textContent(), POLL).toContain('approved');
    await expect.poll(() => rowInSecond.textContent(), POLL).toContain('exit 0');
    expect(await second.getByTestId('approval-banner').count()).toBe(0);
    // …and says who answered: not this page.
    await expect
      .poll(() => second.locator('.notice').allTextContents(), POLL)
      .toContainEqual(
        expect.stringContaining('Approved in another window or tab: echo "approved in the browser"'),
      );
    expect(await first.locator('.notice', { hasText: 'in another window or tab' }).count()).toBe(0);
    await second.screenshot({ path: join(ARTIFACTS_DIR, 'web-approval-resolved-tray-dark.png') });
  });

  it('a deny in one session refuses the command for the server and clears the other', async () => {
    const [first, second] = pages as [Page, Page];
    const serverId = await authenticated();
    const result = env.sandbox.dispatchCommand(serverId, 'external', ['echo', 'denied in the browser'], {
      timeoutMs: 30_000,
    });
    const cardInSecond = second.getByTestId('approval');
    await cardInSecond.waitFor({ timeout: 15_000 });
    await first.getByTestId('approval').waitFor({ timeout: 15_000 });
    // The other two looks: tray size in light, full size in dark.
    await first.setViewportSize(TRAY_VIEWPORT);
    await second.setViewportSize(FULL_VIEWPORT);
    await second.emulateMedia({ colorScheme: 'dark' });
    await first.screenshot({ path: join(ARTIFACTS_DIR, 'web-approval-card-tray-light.png') });
    await second.screenshot({ path: join(ARTIFACTS_DIR, 'web-approval-card-full-dark.png') });
    await cardInSecond.getByRole('button', { name: 'Deny' }).click();
    const reply = await result;
    expect(reply.stdout).toBe('');
    expect(reply.stderr).toContain('refused: the command was denied in the dashboard.');
    await expect.poll(() => first.getByTestId('approval').count(), POLL).toBe(0);
    const rowInFirst = first.getByTestId('command-row').filter({ hasText: 'denied in the browser' });
    await expect.poll(() => rowInFirst.textContent(), POLL).toContain('rejected');
    await expect
      .poll(() => first.locator('.notice').allTextContents(), POLL)
      .toContainEqual(
        expect.stringContaining('Denied in another window or tab: echo "denied in the browser"'),
      );

    // Settings says where "ask" is answered on this agent.
    await first.getByRole('tab', { name: 'Settings' }).click();
    await expect
      .poll(() => first.getByLabel('Policy', { exact: true }).getAttribute('aria-describedby'), POLL)
      .not.toBeNull();
    const hintId = await first.getByLabel('Policy', { exact: true }).getAttribute('aria-describedby');
    expect(await first.locator(`[id="${hintId}"]`).textContent()).toContain('Asked in this dashboard');
  });
});
