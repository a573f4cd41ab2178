import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  runUpgradeCommand,
  headlessUpdaterHook,
  upgradeExtension,
  type UpgradeCommandOptions,
} from '../../../src-main/cli/commands/upgrade';
import { AGENT_VERSION } from '../../../src-main/agent/version';
import { startFeed, type FeedServer } from '../../updates/feed-server';

let dir: string;
const closers: Array<() => Promise<void>> = [];
const savedAppImage = process.env.APPIMAGE;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'minion-upgrade-cli-'));
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  rmSync(dir, { recursive: true, force: true });
  if (savedAppImage === undefined) delete process.env.APPIMAGE;
  else process.env.APPIMAGE = savedAppImage;
});

async function feed(version: string, payload: Buffer): Promise<FeedServer> {
  const server = await startFeed({ version, fileName: `Minion-Agent-${version}-x86_64.AppImage`, payload });
  closers.push(() => server.close());
  return server;
}

async function legacyEndpoint(body: unknown): Promise<string> {
  const server: Server = createServer((_req, res) => res.writeHead(200).end(JSON.stringify(body)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/minion`;
}

function capture(): {
  lines: string[];
  errors: string[];
  out: { stdout(l: string): void; stderr(l: string): void };
} {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: { stdout: (l) => lines.push(l), stderr: (l) => errors.push(l) } };
}

function options(extra: Partial<UpgradeCommandOptions>): UpgradeCommandOptions {
  return {
    currentVersion: '0.3.0',
    feedUrl: null,
    channel: 'latest',
    policy: 'manual',
    allowDowngrade: false,
    legacyUrl: null,
    cacheDir: join(dir, 'cache'),
    appImagePath: null,
    ...extra,
  };
}

describe('minion-agent upgrade / version --check', () => {
  it('version --check reports the feed and the legacy endpoint without downloading', async () => {
    const server = await feed('0.4.0', randomBytes(1000));
    const legacyUrl = await legacyEndpoint({ latest_version: '0.2.1', md5: 'x', download_url: 'http://x' });
    const { lines, errors, out } = capture();
    const code = await runUpgradeCommand(options({ feedUrl: server.url, legacyUrl, checkOnly: true }), out);
    expect(code).toBe(0);
    expect(errors).toEqual([]);
    expect(lines).toContain('Update available: 0.4.0 (0.0 MB).');
    expect(
      lines.some((l) => l.startsWith(`The legacy upgrade endpoint ${legacyUrl} announces version 0.2.1`)),
    ).toBe(true);
    expect(server.requests.some((p) => p.endsWith('.AppImage'))).toBe(false);
  });

  it('upgrade from an AppImage downloads, verifies and replaces it', async () => {
    const payload = randomBytes(200_000);
    const server = await feed('0.4.0', payload);
    const appImage = join(dir, 'Minion-Agent.AppImage');
    writeFileSync(appImage, 'old', { mode: 0o755 });
    const { lines, errors, out } = capture();
    const code = await runUpgradeCommand(options({ feedUrl: server.url, appImagePath: appImage }), out);
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    expect(lines).toContain('Download verified (sha512).');
    expect(lines.some((l) => l.startsWith('Downloading… 100 %'))).toBe(true);
    expect(readFileSync(appImage).equals(payload)).toBe(true);
    expect(statSync(appImage).mode & 0o777).toBe(0o755);
  });

  it('upgrade outside an AppImage reports and explains, exit 0', async () => {
    const server = await feed('0.4.0', randomBytes(1000));
    delete process.env.APPIMAGE;
    const { lines, out } = capture();
    expect(await runUpgradeCommand(options({ feedUrl: server.url, appImagePath: undefined }), out)).toBe(0);
    expect(lines.at(-1)).toMatch(/cannot replace itself: install 0\.4\.0/);
  });

  it('fails with the explanation when the feed is wrong, and refuses when updates are off', async () => {
    const server = await feed('0.4.0', randomBytes(10));
    const broken = capture();
    expect(await runUpgradeCommand(options({ feedUrl: server.url, channel: 'beta' }), broken.out)).toBe(1);
    expect(broken.errors[0]).toMatch(/has no beta release for this platform/);

    const off = capture();
    expect(await runUpgradeCommand(options({ feedUrl: server.url, policy: 'off' }), off.out)).toBe(1);
    expect(off.lines).toContain(
      'Updates are turned off (updates.policy: off); the update feed was not asked.',
    );
    expect(server.requests.filter((p) => p.includes('beta'))).toHaveLength(1);
  });

  it('does not query the original default endpoint (its host is gone)', async () => {
    const { lines, errors, out } = capture();
    const code = await runUpgradeCommand(
      options({ legacyUrl: 'http://getminion.io/api/v1/minion', policy: 'off', checkOnly: true }),
      out,
    );
    expect(code).toBe(0);
    expect(errors).toEqual([]);
    expect(lines.some((l) => l.includes('legacy'))).toBe(false);
  });

  it('reads updates.* and data_dir from the config file (the CLI extension entry)', async () => {
    const server = await feed(AGENT_VERSION, randomBytes(10));
    const configPath = join(dir, 'config.yml');
    writeFileSync(
      configPath,
      `group_id: g\ngroup_key: k\nserver_id: 5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11\ndata_dir: ${join(dir, 'data')}\nupdates:\n  feed_url: ${server.url}\n`,
    );
    const out: string[] = [];
    const err: string[] = [];
    const code = await upgradeExtension(
      { configPath, checkOnly: true },
      { out: (t) => out.push(t), err: (t) => err.push(t) },
    );
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out).toContain(`Checking ${server.url} (latest channel)…`);
    expect(out.at(-1)).toMatch(/is the latest version on the latest channel/);
    expect(readFileSync(join(dir, 'data', 'updates', 'app-update.yml'), 'utf8')).toContain(server.url);

    writeFileSync(configPath, 'updates:\n  policy: sometimes\n');
    const bad: string[] = [];
    expect(
      await upgradeExtension(
        { configPath, checkOnly: true },
        { out: () => undefined, err: (t) => bad.push(t) },
      ),
    ).toBe(2);
    expect(bad.join('\n')).toContain('updates.policy');
  });

  it('neither the upgrade command nor the headless update hook generates or writes a server id', async () => {
    const server = await feed(AGENT_VERSION, randomBytes(10));
    const configPath = join(dir, 'config.yml');
    // No server_id: only the agent's start may generate one (and writes it before it connects).
    const text = `group_id: g\ngroup_key: k\ndata_dir: ${join(dir, 'data')}\nupdates:\n  feed_url: ${server.url}\n`;
    writeFileSync(configPath, text);
    const code = await upgradeExtension(
      { configPath, checkOnly: true },
      { out: () => undefined, err: () => undefined },
    );
    expect(code).toBe(0);
    expect(headlessUpdaterHook(configPath)?.view?.().state).toBe('idle');
    await new Promise((resolve) => setImmediate(resolve));
    expect(readFileSync(configPath, 'utf8')).toBe(text);
    expect(existsSync(join(dir, 'data', 'server-id'))).toBe(false);
  });

  it("answers the server's internal upgrade in a headless agent according to updates.policy", async () => {
    const server = await feed('99.0.0', randomBytes(10));
    const configPath = join(dir, 'config.yml');
    const base = `group_id: g\ngroup_key: k\nserver_id: 5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11\ndata_dir: ${join(dir, 'data')}\n`;
    writeFileSync(configPath, `${base}updates:\n  feed_url: ${server.url}\n  policy: manual\n`);
    const manual = headlessUpdaterHook(configPath);
    expect(manual?.view?.().state).toBe('idle');
    expect(await manual?.upgrade([])).toEqual({
      stdout: 'update 99.0.0 available, waiting for the user to install it (updates.policy: manual)',
      stderr: '',
    });
    expect(manual?.view?.().availableVersion).toBe('99.0.0');

    writeFileSync(configPath, `${base}updates:\n  feed_url: ${server.url}\n  policy: 'off'\n`);
    const off = headlessUpdaterHook(configPath);
    expect(off?.view?.().state).toBe('off');
    expect((await off?.upgrade([]))?.stderr).toMatch(/^upgrade refused: Updates are turned off/);
  });
});
