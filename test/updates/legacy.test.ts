import { createServer, type RequestListener, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  describeLegacyAnnouncement,
  fetchLegacyAnnouncement,
  LegacyUpgradeError,
  parseLegacyAnnouncement,
} from '../../src-main/updates/legacy';
import { unreachableUrl } from './feed-server';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function serve(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/minion`;
}

async function failure(promise: Promise<unknown>): Promise<LegacyUpgradeError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LegacyUpgradeError);
  return error as LegacyUpgradeError;
}

describe('parseLegacyAnnouncement', () => {
  it('reads the mock server shape the original agent expected', () => {
    expect(
      parseLegacyAnnouncement({
        latest_version: '0.2.1',
        md5: 'abc',
        download_url: 'http://x/agent',
        extra: 1,
      }),
    ).toEqual({ version: '0.2.1', checksum: 'abc', downloadUrl: 'http://x/agent', shape: 'mock' });
  });
  it('tolerates the old Rails API shape', () => {
    expect(
      parseLegacyAnnouncement({
        data: { version: '0.2.2', md5: 'def', url: 'http://x/a' },
        success: true,
        message: null,
      }),
    ).toEqual({ version: '0.2.2', checksum: 'def', downloadUrl: 'http://x/a', shape: 'rails' });
  });
  it('tolerates the shape the README promised', () => {
    expect(
      parseLegacyAnnouncement({ latest_version: '0.2.3', sha256: 'f00', download: 'http://x/b' }),
    ).toEqual({
      version: '0.2.3',
      checksum: 'f00',
      downloadUrl: 'http://x/b',
      shape: 'readme',
    });
  });
  it('rejects JSON without a version with a typed error', () => {
    for (const body of [{}, [], null, 'x', { data: {} }, { latest_version: '' }]) {
      expect(() => parseLegacyAnnouncement(body)).toThrow(LegacyUpgradeError);
    }
  });
});

describe('fetchLegacyAnnouncement', () => {
  it('fetches and reports the announced version, pointing installs at the feed', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ latest_version: '0.2.1', md5: 'abc', download_url: 'http://x' }));
    });
    const announcement = await fetchLegacyAnnouncement(url);
    expect(announcement.version).toBe('0.2.1');
    expect(describeLegacyAnnouncement(url, announcement, '0.3.0')).toBe(
      `The legacy upgrade endpoint ${url} announces version 0.2.1 (this agent is 0.3.0). ` +
        "Installs go through the app's update feed (updates.feed_url), which verifies every download by sha512; the legacy download is not used.",
    );
  });

  it('follows a redirect', async () => {
    const url = await serve((req, res) => {
      if (req.url === '/moved') {
        res.writeHead(200).end(JSON.stringify({ data: { version: '0.2.9' } }));
      } else {
        res.writeHead(302, { location: '/moved' }).end();
      }
    });
    expect((await fetchLegacyAnnouncement(url)).version).toBe('0.2.9');
  });

  it('explains HTTP errors, non-JSON, oversized answers, timeouts, unreachable hosts and bad URLs', async () => {
    const notFound = await serve((_req, res) => res.writeHead(404).end('nope'));
    expect((await failure(fetchLegacyAnnouncement(notFound))).message).toBe(
      `The upgrade endpoint ${notFound} answered HTTP 404.`,
    );

    const html = await serve((_req, res) => res.writeHead(200).end('<html>'));
    expect((await failure(fetchLegacyAnnouncement(html))).kind).toBe('bad-json');

    const huge = await serve((_req, res) => res.writeHead(200).end(Buffer.alloc(100_000, 32)));
    expect((await failure(fetchLegacyAnnouncement(huge, { maxBytes: 1000 }))).kind).toBe('too-large');

    const silent = await serve(() => {
      // never answers
    });
    const timeout = await failure(fetchLegacyAnnouncement(silent, { timeoutMs: 150 }));
    expect(timeout.kind).toBe('timeout');
    expect(timeout.message).toBe(`The upgrade endpoint ${silent} did not answer within 0.15 s.`);

    const down = await unreachableUrl();
    const refused = await failure(fetchLegacyAnnouncement(down));
    expect(refused.message).toBe(`The upgrade endpoint ${down} could not be reached (ECONNREFUSED).`);

    expect((await failure(fetchLegacyAnnouncement('ftp://example.invalid/x'))).kind).toBe('bad-url');
    expect((await failure(fetchLegacyAnnouncement('not a url'))).kind).toBe('bad-url');
  });
});
