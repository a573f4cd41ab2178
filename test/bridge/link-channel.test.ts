import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LINK_CHANNEL_DIR,
  linkChannelPaths,
  requestDashboardLink,
  startLinkChannel,
  type LinkChannel,
  type LinkRequest,
} from '../../src-main/bridge/link-channel';

const posixOnly = process.platform !== 'win32';
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** Sends `text` on the channel's socket and resolves with the agent's one-line answer. */
function rawRequest(socketPath: string, text: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(answer) as Record<string, unknown>);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    socket.on('error', reject);
    socket.write(text);
  });
}

describe.runIf(posixOnly)('dashboard link channel (POSIX only)', () => {
  let dataDir: string;
  let channel: LinkChannel | null;
  let minted: LinkRequest[];
  let counter: number;

  const start = async (dir = dataDir): Promise<LinkChannel> =>
    startLinkChannel({
      dataDir: dir,
      mint: (request) => {
        minted.push(request);
        return `http://127.0.0.1:1/?token=link-${++counter}`;
      },
    });

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'minion-link-'));
    channel = null;
    minted = [];
    counter = 0;
  });

  afterEach(async () => {
    await channel?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('gives the running agent a fresh link for each request, passing endSessions through', async () => {
    channel = await start();
    expect(await requestDashboardLink(dataDir, { endSessions: false })).toBe(
      'http://127.0.0.1:1/?token=link-1',
    );
    expect(await requestDashboardLink(dataDir, { endSessions: true })).toBe(
      'http://127.0.0.1:1/?token=link-2',
    );
    expect(minted).toEqual([{ endSessions: false }, { endSessions: true }]);
  });

  it('keeps its directory, socket and secret owner-only, tightening a directory that was left open', async () => {
    mkdirSync(join(dataDir, LINK_CHANNEL_DIR), { mode: 0o755 });
    chmodSync(join(dataDir, LINK_CHANNEL_DIR), 0o755);
    channel = await start();
    const { dir, socket, secretFile } = channel.paths;
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(socket).isSocket()).toBe(true);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
  });

  it('refuses a request without the right secret, and malformed or oversized ones, without minting', async () => {
    channel = await start();
    const { socket } = channel.paths;
    expect(await rawRequest(socket, '{"v":1,"secret":"guess","endSessions":false}\n')).toEqual({
      ok: false,
      error: 'refused: wrong secret',
    });
    expect(await rawRequest(socket, 'not json\n')).toMatchObject({
      ok: false,
      error: 'bad request: not JSON',
    });
    expect(await rawRequest(socket, '{"v":2,"secret":"x"}\n')).toMatchObject({ ok: false });
    expect(await rawRequest(socket, '{"v":1,"secret":"x","endSessions":"yes"}\n')).toMatchObject({
      ok: false,
    });
    expect(await rawRequest(socket, 'x'.repeat(10_000))).toMatchObject({
      ok: false,
      error: 'bad request: message too long',
    });
    expect(minted).toEqual([]);
    // Still serving after the bad requests.
    expect(await requestDashboardLink(dataDir, { endSessions: false })).toMatch(/token=link-1$/);
  });

  it('says clearly that no agent is running: never started, crashed (stale secret), and after a clean stop', async () => {
    await expect(requestDashboardLink(dataDir, { endSessions: false })).rejects.toThrow(
      /no running agent serves a dashboard for the data dir .*minion-agent run --ui/,
    );
    const paths = linkChannelPaths(dataDir);
    mkdirSync(paths.dir, { mode: 0o700 });
    writeFileSync(paths.secretFile, 'left-over\n', { mode: 0o600 });
    await expect(requestDashboardLink(dataDir, { endSessions: false })).rejects.toThrow(/no running agent/);

    const running = await start();
    await running.close();
    expect(existsSync(paths.socket)).toBe(false);
    expect(existsSync(paths.secretFile)).toBe(false);
    await expect(requestDashboardLink(dataDir, { endSessions: false })).rejects.toThrow(/no running agent/);
  });

  it('replaces a stale socket file but refuses to start beside a live agent on the same data dir', async () => {
    const paths = linkChannelPaths(dataDir);
    mkdirSync(paths.dir, { mode: 0o700 });
    writeFileSync(paths.socket, '');
    channel = await start();
    await expect(start()).rejects.toThrow(/another running agent/);
    expect(await requestDashboardLink(dataDir, { endSessions: false })).toMatch(/token=link-1$/);
  });

  it('uses an owner-only directory in the temp dir when the data dir is too deep for a socket path', async () => {
    const deep = join(dataDir, 'd'.repeat(60), 'e'.repeat(60));
    channel = await start(deep);
    expect(channel.paths.socket.startsWith(tmpdir())).toBe(true);
    expect(statSync(join(channel.paths.socket, '..')).mode & 0o777).toBe(0o700);
    expect(await requestDashboardLink(deep, { endSessions: false })).toMatch(/token=link-1$/);
    await channel.close();
    channel = null;
  });

  // Another user is only available to a root test run (the CI container); elsewhere the two tests are reported skipped.
  it.runIf(isRoot)(
    'another local user can neither connect to the socket nor read the secret (root runs only)',
    async () => {
      channel = await start();
      const { socket, secretFile } = channel.paths;
      // The data dir itself must be enterable by the other user, so only the channel's own modes stand in the way.
      chmodSync(dataDir, 0o755);
      const probe = `
      const net = require('node:net'); const fs = require('node:fs');
      let secret = 'readable';
      try { fs.readFileSync(${JSON.stringify(secretFile)}); } catch (e) { secret = e.code; }
      const s = net.createConnection(${JSON.stringify(socket)});
      s.on('connect', () => { console.log(JSON.stringify({ secret, socket: 'connected' })); s.destroy(); });
      s.on('error', (e) => console.log(JSON.stringify({ secret, socket: e.code })));`;
      const result = spawnSync(process.execPath, ['-e', probe], {
        uid: NOBODY,
        gid: NOBODY,
        encoding: 'utf8',
      });
      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({ secret: 'EACCES', socket: 'EACCES' });
      expect(minted).toEqual([]);
    },
  );

  it.runIf(isRoot)(
    'refuses to serve from a channel directory owned by another user (root runs only)',
    async () => {
      const dir = join(dataDir, LINK_CHANNEL_DIR);
      mkdirSync(dir, { mode: 0o700 });
      chownSync(dir, NOBODY, NOBODY);
      await expect(start()).rejects.toThrow(/belongs to another user/);
    },
  );
});
