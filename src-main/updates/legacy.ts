// The original agent's upgrade endpoint (protocol §8): `GET <upgrade>` answered `{"latest_version","md5",
// "download_url"}` (the mock server), the old Rails API `{"data":{"version","md5","url"}}`, and its README promised
// `latest_version`/`sha256`/`download`. We only *report* the announced version: installing an unsigned binary
// checked by MD5 is exactly what the update feed (sha512, HTTPS, signed installers) replaces.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface LegacyAnnouncement {
  version: string;
  /** Checksum as announced (md5 or sha256 hex); informational only. */
  checksum: string | null;
  downloadUrl: string | null;
  shape: 'mock' | 'rails' | 'readme';
}

export type LegacyErrorKind =
  'bad-url' | 'unreachable' | 'timeout' | 'http' | 'too-large' | 'bad-json' | 'bad-shape';

export class LegacyUpgradeError extends Error {
  constructor(
    readonly kind: LegacyErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'LegacyUpgradeError';
  }
}

export interface LegacyFetchOptions {
  timeoutMs?: number;
  /** The answer is a few hundred bytes; anything much bigger is not this endpoint. */
  maxBytes?: number;
  maxRedirects?: number;
}

/** Reads the announced version from any of the three historical shapes; throws LegacyUpgradeError('bad-shape'). */
export function parseLegacyAnnouncement(body: unknown): LegacyAnnouncement {
  const record = asRecord(body);
  if (record != null) {
    const version = nonEmpty(record.latest_version);
    if (version != null) {
      const md5 = nonEmpty(record.md5);
      const sha256 = nonEmpty(record.sha256);
      const readme = md5 == null && (sha256 != null || nonEmpty(record.download) != null);
      return {
        version,
        checksum: md5 ?? sha256,
        downloadUrl: nonEmpty(record.download_url) ?? nonEmpty(record.download),
        shape: readme ? 'readme' : 'mock',
      };
    }
    const data = asRecord(record.data);
    const railsVersion = data == null ? null : nonEmpty(data.version);
    if (data != null && railsVersion != null) {
      return {
        version: railsVersion,
        checksum: nonEmpty(data.md5),
        downloadUrl: nonEmpty(data.url),
        shape: 'rails',
      };
    }
  }
  throw new LegacyUpgradeError(
    'bad-shape',
    'The upgrade endpoint answered JSON without a version (expected "latest_version", or "data.version" from the old API).',
  );
}

/** GET the endpoint with a timeout; resolves with the announcement or rejects with a LegacyUpgradeError. */
export async function fetchLegacyAnnouncement(
  url: string,
  options: LegacyFetchOptions = {},
): Promise<LegacyAnnouncement> {
  const text = await getText(url, options, options.maxRedirects ?? 3);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LegacyUpgradeError('bad-json', `The upgrade endpoint ${url} did not answer JSON.`);
  }
  return parseLegacyAnnouncement(json);
}

/** The sentence shown in the UI and by `minion-agent version --check`. */
export function describeLegacyAnnouncement(
  url: string,
  announcement: LegacyAnnouncement,
  currentVersion: string,
): string {
  return (
    `The legacy upgrade endpoint ${url} announces version ${announcement.version} (this agent is ${currentVersion}). ` +
    "Installs go through the app's update feed (updates.feed_url), which verifies every download by sha512; the legacy download is not used."
  );
}

function getText(url: string, options: LegacyFetchOptions, redirectsLeft: number): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new LegacyUpgradeError('bad-url', `The upgrade URL "${url}" is not a valid URL.`));
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return Promise.reject(
      new LegacyUpgradeError('bad-url', `The upgrade URL "${url}" must start with http:// or https://.`),
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  const send = parsed.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise<string>((resolve, reject) => {
    const request = send(
      parsed,
      { method: 'GET', headers: { accept: 'application/json' } },
      (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        const location = response.headers.location;
        if (status >= 300 && status < 400 && location != null && redirectsLeft > 0) {
          response.resume();
          getText(new URL(location, parsed).toString(), options, redirectsLeft - 1).then(resolve, reject);
          return;
        }
        if (status !== 200) {
          response.resume();
          reject(new LegacyUpgradeError('http', `The upgrade endpoint ${url} answered HTTP ${status}.`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            request.destroy();
            reject(
              new LegacyUpgradeError(
                'too-large',
                `The upgrade endpoint ${url} answered more than ${maxBytes} bytes.`,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        response.on('error', (error) => reject(unreachable(url, error)));
      },
    );
    request.setTimeout(timeoutMs, () => {
      request.destroy();
      reject(
        new LegacyUpgradeError(
          'timeout',
          `The upgrade endpoint ${url} did not answer within ${timeoutMs / 1000} s.`,
        ),
      );
    });
    request.on('error', (error) => reject(unreachable(url, error)));
    request.end();
  });
}

function unreachable(url: string, error: Error): LegacyUpgradeError {
  const code = (error as NodeJS.ErrnoException).code;
  return new LegacyUpgradeError(
    'unreachable',
    `The upgrade endpoint ${url} could not be reached (${code ?? error.message}).`,
  );
}

function asRecord(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value != null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function nonEmpty(value: unknown): string | null {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}
