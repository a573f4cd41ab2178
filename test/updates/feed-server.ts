// A tiny electron-builder "generic" update feed on 127.0.0.1 for the update tests: serves latest*.yml and the
// release file, optionally slowly (so electron-updater reports progress) or with a wrong checksum.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';

export interface FeedRelease {
  version: string;
  fileName: string;
  payload: Buffer;
  /** Publish this sha512 instead of the payload's (simulates a corrupt or tampered file). */
  sha512Override?: string;
  releaseNotes?: string;
  /** Channel file prefix: `latest` or `beta`. */
  channel?: string;
}

export interface FeedServer {
  url: string;
  /** Request paths in arrival order (query strings stripped). */
  requests: string[];
  close(): Promise<void>;
}

export function sha512Base64(data: Buffer): string {
  return createHash('sha512').update(data).digest('base64');
}

/** The channel file electron-updater asks for on this machine (`latest-linux.yml`, `latest-linux-arm64.yml`, …). */
export function channelFileName(channel = 'latest'): string {
  if (process.platform === 'darwin') return `${channel}-mac.yml`;
  if (process.platform === 'win32') return `${channel}.yml`;
  return process.arch === 'x64' ? `${channel}-linux.yml` : `${channel}-linux-${process.arch}.yml`;
}

export function channelYaml(release: FeedRelease): string {
  const sha512 = release.sha512Override ?? sha512Base64(release.payload);
  const lines = [
    `version: ${release.version}`,
    'files:',
    `  - url: ${release.fileName}`,
    `    sha512: ${sha512}`,
    `    size: ${release.payload.length}`,
    `path: ${release.fileName}`,
    `sha512: ${sha512}`,
    `releaseDate: '2026-11-25T12:00:00.000Z'`,
  ];
  if (release.releaseNotes != null) lines.push(`releaseNotes: ${JSON.stringify(release.releaseNotes)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Serves `release` under `/feed/`. With `slowMs`, the file goes out in three parts with pauses in between, long
 * enough for electron-updater's once-a-second progress callback to fire mid-download.
 */
export async function startFeed(
  release: FeedRelease | null,
  options: { slowMs?: number } = {},
): Promise<FeedServer> {
  const requests: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requests.push(path);
    if (release != null && path === `/feed/${channelFileName(release.channel)}`) {
      res.writeHead(200, { 'content-type': 'text/yaml' }).end(channelYaml(release));
      return;
    }
    if (release != null && path === `/feed/${release.fileName}`) {
      const body = release.payload;
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(body.length),
      });
      if (options.slowMs == null) {
        res.end(body);
        return;
      }
      const third = Math.floor(body.length / 3);
      res.write(body.subarray(0, third));
      const later = (fn: () => void): void => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          fn();
        }, options.slowMs);
        timers.add(timer);
      };
      later(() => {
        res.write(body.subarray(third, 2 * third));
        later(() => res.end(body.subarray(2 * third)));
      });
      return;
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/feed/`,
    requests,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A URL on 127.0.0.1 where nothing listens (a port we just held and released). */
export async function unreachableUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/feed/`;
}
