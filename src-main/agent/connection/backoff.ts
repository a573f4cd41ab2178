/**
 * Reconnect schedule, two kinds of failure:
 *
 * - "Nobody home": the TCP connect was refused or got no answer. That costs the server nothing (its kernel, or
 *   nobody, answers), so it is retried every `refusedMinMs`–`refusedMaxMs` (uniform jitter), forever, and does not
 *   grow the backoff: a restarted server sees the agent again within seconds.
 * - "Server in trouble": anything after the TCP connect — auth timeout, denied, TLS error, reset mid-session,
 *   heartbeat timeout. Those cost the server work, so they get capped exponential backoff with full jitter (AWS "full jitter": a uniform delay in
 * [0, min(cap, base·2^n)]). Full jitter spreads a fleet that lost the same server at the same moment, so agents do
 * not come back in lockstep; the very first retry is already randomized in [0, base].
 *
 * The attempt counter resets only after a connection stayed up for `stableMs`: a server that accepts and then drops
 * us immediately keeps the delays growing instead of being hammered at the base delay.
 */

export interface BackoffOptions {
  /** First ceiling of the jitter window. Default 500 ms. */
  baseMs?: number;
  /** Largest delay ever returned for ordinary failures. Default 60 s. */
  capMs?: number;
  /** Delay after the server answered `denied` (wrong key: hammering it is pointless). Default 5 min. */
  deniedMs?: number;
  /** A connection that lived at least this long resets the schedule. Default 30 s. */
  stableMs?: number;
  /** Retry window after a refused / unanswered TCP connect. Default 1000–3000 ms. */
  refusedMinMs?: number;
  refusedMaxMs?: number;
  /** Authentications after refused connects land within this long of the server's return. Default 4500 ms; 0 = at once. */
  rejoinWindowMs?: number;
  /** Uniform random in [0, 1); injectable for tests. */
  random?: () => number;
}

export const BACKOFF_DEFAULTS = {
  baseMs: 500,
  capMs: 60_000,
  deniedMs: 5 * 60_000,
  stableMs: 30_000,
  refusedMinMs: 1_000,
  refusedMaxMs: 3_000,
  rejoinWindowMs: 4_500,
} as const;

/**
 * Share of a fleet that authenticates at once on rejoining. The time to the first successful connect is front-loaded
 * (a retry delay running when the port opens is, by the inspection paradox, the longer kind: half the fleet connects
 * within the first second), so the rest spreads over what is left of the rejoin window. Together: about a third of the
 * fleet per second at most (docs/spool.md "Reconnects and the fleet").
 */
export const REJOIN_AT_ONCE_SHARE = 0.4;

export class Backoff {
  readonly baseMs: number;
  readonly capMs: number;
  readonly deniedMs: number;
  readonly stableMs: number;
  readonly refusedMinMs: number;
  readonly refusedMaxMs: number;
  readonly rejoinWindowMs: number;
  private readonly random: () => number;
  /** Failed attempts since the last reset; the next window is min(cap, base·2^attempt). */
  private attempt = 0;
  private connectedAt: number | null = null;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = positive(options.baseMs, BACKOFF_DEFAULTS.baseMs, 'baseMs');
    this.capMs = Math.max(this.baseMs, positive(options.capMs, BACKOFF_DEFAULTS.capMs, 'capMs'));
    this.deniedMs = positive(options.deniedMs, BACKOFF_DEFAULTS.deniedMs, 'deniedMs');
    this.stableMs = positive(options.stableMs, BACKOFF_DEFAULTS.stableMs, 'stableMs');
    this.refusedMinMs = positive(options.refusedMinMs, BACKOFF_DEFAULTS.refusedMinMs, 'refusedMinMs');
    this.refusedMaxMs = Math.max(
      this.refusedMinMs,
      positive(options.refusedMaxMs, BACKOFF_DEFAULTS.refusedMaxMs, 'refusedMaxMs'),
    );
    this.rejoinWindowMs = Math.max(0, options.rejoinWindowMs ?? BACKOFF_DEFAULTS.rejoinWindowMs);
    if (!Number.isFinite(this.rejoinWindowMs))
      throw new RangeError(`backoff rejoinWindowMs must be a finite number, got ${options.rejoinWindowMs}`);
    this.random = options.random ?? Math.random;
  }

  /** Number of delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The jitter window (upper bound) of the next ordinary delay. */
  nextWindowMs(): number {
    // 2^attempt overflows to Infinity eventually; Math.min keeps the cap either way.
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 1024));
  }

  /** Delay before the next attempt after an ordinary failure (unreachable, dropped, protocol error…). */
  next(): number {
    const window = this.nextWindowMs();
    this.attempt += 1;
    return Math.floor(clamp01(this.random()) * window);
  }

  /**
   * Delay after a refused or unanswered TCP connect: uniform in [refusedMinMs, refusedMaxMs]. Leaves the exponential
   * schedule as it is (a server that keeps dropping us after connecting still gets its growing pauses).
   */
  nextRefused(): number {
    return Math.floor(this.refusedMinMs + clamp01(this.random()) * (this.refusedMaxMs - this.refusedMinMs));
  }

  /**
   * Wait before authenticating on the first connect that succeeds after refused ones (the server is back, and with it
   * the whole fleet). The server came back within the last retry delay (`lastRefusedDelayMs`), so waiting a uniform
   * part of `rejoinWindowMs − lastRefusedDelayMs` keeps every authentication within the window after its return;
   * REJOIN_AT_ONCE_SHARE of the agents go at once.
   */
  rejoinDelay(lastRefusedDelayMs: number): number {
    if (this.rejoinWindowMs <= 0 || clamp01(this.random()) < REJOIN_AT_ONCE_SHARE) return 0;
    const room = Math.max(0, this.rejoinWindowMs - lastRefusedDelayMs);
    return Math.floor(clamp01(this.random()) * room);
  }

  /**
   * Delay after a `denied` verdict: at least `deniedMs`, plus up to 20 % jitter so a fleet with a rotated key
   * does not retry in lockstep. Also advances the ordinary schedule.
   */
  nextDenied(): number {
    this.attempt += 1;
    return Math.floor(this.deniedMs * (1 + 0.2 * clamp01(this.random())));
  }

  /** Marks the start of an authenticated connection. */
  connected(now: number = Date.now()): void {
    this.connectedAt = now;
  }

  /** Marks the end of a connection; resets the schedule when it had been stable. */
  disconnected(now: number = Date.now()): void {
    if (this.connectedAt !== null && now - this.connectedAt >= this.stableMs) this.attempt = 0;
    this.connectedAt = null;
  }

  /** Explicit reset (user pressed "reconnect now", new configuration). */
  reset(): void {
    this.attempt = 0;
    this.connectedAt = null;
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`backoff ${name} must be a positive number, got ${value}`);
  return value;
}

/** A broken random source (NaN, 1, negative) must never produce a negative or over-cap delay. */
function clamp01(x: number): number {
  if (!Number.isFinite(x) || x < 0) return 0;
  return x >= 1 ? 0.999_999_999 : x;
}
