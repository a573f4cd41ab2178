/**
 * Browser e2e harness: the built renderer served on 127.0.0.1, Debian's Chromium driven by playwright-core, the REAL
 * preload (bundled against electron-shim.ts) injected with `addInitScript`, and invokes bridged into this process
 * where the REAL `dispatchInvoke` handlers and event batcher run against whatever core the test passes.
 *
 *   const e2e = await startE2E();                       // once per file (beforeAll); e2e.close() in afterAll
 *   const d = await e2e.open({ core, updates });        // a page with window.minion wired to core/updates
 *   await d.page.getByRole('tab', { name: 'Logs' }).click();
 *   await d.screenshot('logs-full');                    // → test/e2e/artifacts/logs-full.png
 *   await d.close();
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { AgentCoreApi } from '../../../src-main/agent/core-api';
import { createEventBatcher, type EventBatcher } from '../../../src-main/bridge/event-batcher';
import {
  createInvokeHandlers,
  dispatchInvoke,
  type InvokeHandlerDeps,
} from '../../../src-main/bridge/handlers';
import type { EventChannel, EventPayloads, UpdatesApi } from '../../../src-shared/ipc';
import { bundlePreload, REPO_ROOT } from './preload-bundle';
import { ensureRendererBuilt } from './renderer-build';
import { serveStatic, type StaticServer } from './static-server';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const ARTIFACTS_DIR = join(REPO_ROOT, 'test/e2e/artifacts');
export const TRAY_VIEWPORT = { width: 420, height: 640 };
export const FULL_VIEWPORT = { width: 1280, height: 800 };

export interface Viewport {
  width: number;
  height: number;
}

export interface OpenOptions {
  core: AgentCoreApi;
  updates: UpdatesApi;
  startSandbox?: InvokeHandlerDeps['startSandbox'];
  viewport?: Viewport;
  /** Initial view, e.g. 'logs' (the URL hash). */
  view?: string;
  /** Event batch interval (default 100 ms, like the app). */
  eventIntervalMs?: number;
  colorScheme?: 'light' | 'dark';
  /** Extra script run before the page's own (after the preload), e.g. performance observers for a benchmark. */
  initScript?: string;
}

export interface Dashboard {
  page: Page;
  batcher: EventBatcher;
  /** Every invoke the page made, in order (channel + payload), for assertions. */
  invokes: { channel: string; payload: unknown }[];
  /** Events delivered to the page, by channel. */
  delivered: Map<string, number>;
  /** Console errors, page errors and CSP violations seen so far. */
  problems: string[];
  /** Pushes one event straight to the page (bypassing the batcher), e.g. to drive a view in isolation. */
  emit<E extends EventChannel>(channel: E, payload: EventPayloads[E]): Promise<void>;
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export interface E2E {
  context: BrowserContext;
  baseUrl: string;
  open(options: OpenOptions): Promise<Dashboard>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  // A fresh profile per launch: no state leaks between runs, and nothing touches the user's Chromium profile.
  const profile = mkdtempSync(join(tmpdir(), 'minion-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: FULL_VIEWPORT,
    timeout: 30_000,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function startE2E(): Promise<E2E> {
  const rendererDir = await ensureRendererBuilt();
  const [server, preload, chromiumHandle] = await Promise.all([
    serveStatic(rendererDir),
    bundlePreload(),
    launchChromium(),
  ]);
  const open = (options: OpenOptions) => openDashboard(chromiumHandle.context, server, preload, options);
  return {
    context: chromiumHandle.context,
    baseUrl: server.url,
    open,
    close: async () => {
      await chromiumHandle.close();
      await server.close();
    },
  };
}

async function openDashboard(
  context: BrowserContext,
  server: StaticServer,
  preload: string,
  options: OpenOptions,
): Promise<Dashboard> {
  const page = await context.newPage();
  await page.setViewportSize(options.viewport ?? FULL_VIEWPORT);
  await page.emulateMedia({ colorScheme: options.colorScheme ?? 'light', reducedMotion: 'reduce' });
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));

  const deps: InvokeHandlerDeps = { core: options.core, updates: options.updates };
  if (options.startSandbox) deps.startSandbox = options.startSandbox;
  const handlers = createInvokeHandlers(deps);
  const invokes: Dashboard['invokes'] = [];
  await page.exposeBinding('__minionInvoke', (_source, channel: unknown, payload: unknown) => {
    invokes.push({ channel: String(channel), payload });
    return dispatchInvoke(handlers, channel, payload);
  });
  await page.addInitScript({ content: preload });
  if (options.initScript) await page.addInitScript({ content: options.initScript });

  let closed = false;
  // Events that race the initial navigation are lost, as in Electron before a window has loaded; not a problem.
  let loaded = false;
  const delivered = new Map<string, number>();
  const deliver = async (channel: string, payload: unknown): Promise<void> => {
    if (closed) return;
    delivered.set(channel, (delivered.get(channel) ?? 0) + 1);
    // Before the preload ran there is no listener; like Electron, such events are simply not received.
    await page
      .evaluate(
        ([c, p]) => (globalThis as { __minionEmit?: (c: string, p: unknown) => number }).__minionEmit?.(c, p),
        [channel, payload] as const,
      )
      .catch((error: unknown) => {
        if (loaded && !closed && !page.isClosed()) problems.push(`emit ${channel}: ${String(error)}`);
      });
  };
  const batcher = createEventBatcher({
    core: options.core,
    updates: options.updates,
    emit: (channel, payload) => void deliver(channel, payload),
    intervalMs: options.eventIntervalMs ?? 100,
  });

  await page.goto(`${server.url}${options.view ? `#${options.view}` : ''}`);
  await page.locator('.app').waitFor({ timeout: 15_000 });
  loaded = true;

  return {
    page,
    batcher,
    invokes,
    delivered,
    problems,
    emit: (channel, payload) => deliver(channel, payload),
    screenshot: async (name) => {
      mkdirSync(ARTIFACTS_DIR, { recursive: true });
      const path = join(ARTIFACTS_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: false });
      return path;
    },
    close: async () => {
      closed = true;
      batcher.stop();
      await page.close().catch(() => undefined);
    },
  };
}

/** Runs axe-core in the page (evaluated through DevTools, so the page's CSP still applies to the page itself). */
export async function runAxe(
  page: Page,
): Promise<{ id: string; impact: string | null; help: string; nodes: string[] }[]> {
  const { source } = (await import('axe-core')).default as unknown as { source: string };
  await page.evaluate(source);
  return page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run: (
            ctx: unknown,
            opts: unknown,
          ) => Promise<{
            violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
          }>;
        };
      }
    ).axe;
    const result = await axe.run((globalThis as unknown as { document: object }).document, {
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
}
