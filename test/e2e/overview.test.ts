/**
 * The Overview and Settings layouts people noticed: the overview fills a wide window, the log-lines card has a scale
 * and units (lines/s in and out), and at tray size the sticky Save bar never covers the field being edited.
 * Scripted core (exact values), real preload, handlers and event batcher.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgentCore, FakeUpdates } from './support/fake-core';
import { FULL_VIEWPORT, runAxe, startE2E, TRAY_VIEWPORT, type Dashboard, type E2E } from './support/harness';

let e2e: E2E;

beforeAll(async () => {
  e2e = await startE2E();
}, 120_000);

afterAll(async () => {
  await e2e?.close();
});

const POLL = { timeout: 15_000, interval: 100 };

/** Log traffic: 40 lines/s spooled, 30 lines/s sent (the connection's L counter), until stopped. */
function traffic(core: FakeAgentCore): () => void {
  const base = core.snapshot();
  let spooled = 0;
  let sent = 0;
  const timer = setInterval(() => {
    spooled += 10;
    sent += 7.5;
    const log = base.spool.perClass.log;
    core.setSpool({
      perClass: { ...base.spool.perClass, log: { ...log, confirmed: log.confirmed + spooled } },
    });
    const out = base.connection.out;
    core.setConnection({
      out: {
        frames: { ...out.frames, L: (out.frames.L ?? 0) + Math.floor(sent) },
        bytes: { ...out.bytes, L: (out.bytes.L ?? 0) + Math.floor(sent) * 120 },
      },
    });
  }, 250);
  return () => clearInterval(timer);
}

async function openOverview(viewport: { width: number; height: number }, dark: boolean) {
  const core = new FakeAgentCore();
  const d = await e2e.open({
    core,
    updates: new FakeUpdates(),
    viewport,
    colorScheme: dark ? 'dark' : 'light',
    view: 'overview',
  });
  return { core, d };
}

function rate(d: Dashboard, which: 'in' | 'out'): Promise<number> {
  return d.page
    .getByTestId(`lines-${which}-rate`)
    .textContent()
    .then((t) => Number.parseFloat((t ?? '').replace(/,/g, '')));
}

describe('overview', () => {
  for (const [size, viewport] of [
    ['tray', TRAY_VIEWPORT],
    ['full', FULL_VIEWPORT],
  ] as const) {
    for (const dark of [false, true]) {
      it(`${size} ${dark ? 'dark' : 'light'}: log lines in and out with a scale, the window used fully`, async () => {
        const { core, d } = await openOverview(viewport, dark);
        const stop = traffic(core);
        try {
          // Samples are taken once a second; wait for a few.
          await expect.poll(() => d.page.locator('.rate-chart polyline').count(), POLL).toBe(2);
          await expect.poll(() => rate(d, 'in'), POLL).toBeGreaterThan(20);
          await expect.poll(() => rate(d, 'out'), POLL).toBeGreaterThan(15);
          expect(await d.page.getByTestId('lines-in-rate').textContent()).toMatch(/ lines\/s$/);
          // The scale: a round top value in lines/s, half of it, zero.
          const axis = await d.page.locator('.rate-axis span').allTextContents();
          expect(axis).toHaveLength(3);
          expect(axis[0]).toMatch(/^(1|2|5)0* lines\/s$/);
          expect(axis[2]).toBe('0');
          expect(Number.parseFloat(axis[0] ?? '')).toBeGreaterThanOrEqual(await rate(d, 'in'));

          // In the page (a string: this file is type-checked without the DOM library).
          const layout = await d.page.evaluate<{
            width: number;
            rightmost: number;
            overflowX: boolean;
          }>(`(() => {
            const main = document.querySelector('.app-main');
            const style = getComputedStyle(main);
            const box = main.getBoundingClientRect();
            const left = box.left + parseFloat(style.paddingLeft);
            const right = box.right - parseFloat(style.paddingRight) - (main.offsetWidth - main.clientWidth);
            const cards = [...document.querySelectorAll('.overview > .card')].map((c) => c.getBoundingClientRect());
            return {
              width: right - left,
              rightmost: Math.max(...cards.map((c) => c.right)) - left,
              overflowX: main.scrollWidth > main.clientWidth,
            };
          })()`);
          expect(layout.overflowX).toBe(false);
          // Cards reach the right edge: no empty column on a wide window.
          expect(layout.rightmost).toBeGreaterThan(layout.width - 2);
          await d.screenshot(`overview-rates-${size}-${dark ? 'dark' : 'light'}`);
          const serious = (await runAxe(d.page)).filter(
            (v) => v.impact === 'serious' || v.impact === 'critical',
          );
          expect(serious).toEqual([]);
          expect(d.problems).toEqual([]);
        } finally {
          stop();
          await d.close();
        }
      });
    }
  }
});

describe('settings at tray size', () => {
  it('the sticky Save bar never covers the field being edited', async () => {
    const d = await e2e.open({
      core: new FakeAgentCore(),
      updates: new FakeUpdates(),
      viewport: TRAY_VIEWPORT,
      view: 'settings',
    });
    try {
      await d.page.getByLabel('Host', { exact: true }).waitFor();
      // Edit something first, so the bar shows its longest status ("1 unsaved change(s)").
      await d.page.getByLabel('Server name (shown locally only)').fill('tray-box');
      await d.page.getByLabel('Host', { exact: true }).focus();
      const covered: string[] = [];
      // Walk the whole form with the keyboard, as someone filling it in would.
      for (let i = 0; i < 60; i += 1) {
        await d.page.keyboard.press('Tab');
        const state = await d.page.evaluate<{ name: string; hidden: boolean } | null>(`(() => {
          const active = document.activeElement;
          const bar = document.querySelector('.sticky-actions');
          if (!active || !bar || bar.contains(active) || !active.closest('.settings-form')) return null;
          const field = active.getBoundingClientRect();
          const top = bar.getBoundingClientRect().top;
          return { name: active.getAttribute('aria-label') || active.id || active.tagName, hidden: field.bottom > top + 1 };
        })()`);
        if (state?.hidden) covered.push(state.name);
      }
      expect(covered).toEqual([]);
      await d.screenshot('settings-editing-tray');
    } finally {
      await d.close();
    }
  });
});
