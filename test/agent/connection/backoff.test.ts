import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../src-main/agent/connection/backoff';

describe('Backoff', () => {
  it('never exceeds its cap and never stops handing out delays', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 1,
          maxLength: 300,
        }),
        (baseMs, capMs, randoms) => {
          let i = 0;
          const backoff = new Backoff({ baseMs, capMs, random: () => randoms[i++ % randoms.length] ?? 0 });
          const limit = Math.max(baseMs, capMs);
          for (let n = 0; n < 500; n++) {
            const delay = backoff.next();
            if (!(delay >= 0 && delay <= limit))
              throw new Error(`delay ${delay} outside [0, ${limit}] at attempt ${n}`);
          }
          // Still handing out capped delays after hundreds of attempts: it never gives up.
          return backoff.attempts === 500 && backoff.nextWindowMs() === limit;
        },
      ),
      { numRuns: 100 },
    );
  });

  it('retries refused connects uniformly in [refusedMin, refusedMax] forever, leaving the exponential schedule alone', () => {
    const randoms = [0, 0.25, 0.5, 0.999_999, Number.NaN, 1, -1];
    let i = 0;
    const backoff = new Backoff({
      baseMs: 500,
      capMs: 60_000,
      random: () => randoms[i++ % randoms.length] ?? 0,
    });
    const defaults = Array.from({ length: 7 }, () => backoff.nextRefused());
    expect(defaults).toEqual([1000, 1500, 2000, 2999, 1000, 2999, 1000]);
    for (let n = 0; n < 1000; n++) {
      const d = backoff.nextRefused();
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThan(3000);
    }
    // A thousand refusals later the next session failure still starts at the base window.
    expect(backoff.attempts).toBe(0);
    expect(backoff.nextWindowMs()).toBe(500);
    expect(() => new Backoff({ refusedMinMs: 0 })).toThrow(/refusedMinMs/);
    expect(new Backoff({ refusedMinMs: 2000, refusedMaxMs: 10 }).refusedMaxMs).toBe(2000);
  });

  it('spreads a rejoin over what is left of the window after the last refused delay; a share goes at once', () => {
    const sequence = (values: number[]): (() => number) => {
      let i = 0;
      return () => values[i++] ?? 0;
    };
    // First draw decides "at once" (< 0.4), the second where in the room the auth lands.
    expect(new Backoff({ random: sequence([0.39, 0.9]) }).rejoinDelay(1_000)).toBe(0);
    expect(new Backoff({ random: sequence([0.4, 0.5]) }).rejoinDelay(1_000)).toBe(1_750);
    expect(new Backoff({ random: sequence([0.9, 0.999_999]) }).rejoinDelay(3_000)).toBe(1_499);
    // Never past the window, whatever the last refused delay.
    expect(new Backoff({ random: sequence([0.9, 0.999]) }).rejoinDelay(6_000)).toBe(0);
    expect(new Backoff({ rejoinWindowMs: 0, random: sequence([0.9, 0.9]) }).rejoinDelay(1_000)).toBe(0);
    const backoff = new Backoff();
    for (let n = 0; n < 1000; n++) {
      const last = backoff.nextRefused();
      expect(last + backoff.rejoinDelay(last)).toBeLessThanOrEqual(4_500);
    }
  });

  it('grows the jitter window exponentially up to the cap (full jitter)', () => {
    const backoff = new Backoff({ baseMs: 500, capMs: 60_000, random: () => 0.999_999 });
    const windows = Array.from({ length: 10 }, () => {
      const w = backoff.nextWindowMs();
      backoff.next();
      return w;
    });
    expect(windows).toEqual([500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });

  it('randomizes the first delay within [0, base] so a fleet does not reconnect in lockstep', () => {
    const delays = [0, 0.25, 0.5, 0.999].map((r) => new Backoff({ baseMs: 500, random: () => r }).next());
    expect(delays).toEqual([0, 125, 250, 499]);
  });

  it('clamps a broken random source instead of going negative or over the cap', () => {
    for (const r of [NaN, -1, 1, 5, Infinity]) {
      const d = new Backoff({ baseMs: 100, capMs: 100, random: () => r }).next();
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(100);
    }
  });

  it('resets after a stable connection but not after a short one', () => {
    const backoff = new Backoff({ baseMs: 100, capMs: 10_000, stableMs: 30_000, random: () => 0.5 });
    for (let i = 0; i < 5; i++) backoff.next();
    backoff.connected(1_000);
    backoff.disconnected(1_000 + 29_999);
    expect(backoff.nextWindowMs()).toBe(3_200);
    backoff.connected(100_000);
    backoff.disconnected(130_000);
    expect(backoff.attempts).toBe(0);
    expect(backoff.nextWindowMs()).toBe(100);
  });

  it('backs off long after denied: at least deniedMs, at most 20 % more', () => {
    for (const r of [0, 0.5, 0.999]) {
      const d = new Backoff({ deniedMs: 300_000, random: () => r }).nextDenied();
      expect(d).toBeGreaterThanOrEqual(300_000);
      expect(d).toBeLessThan(360_000);
    }
    expect(new Backoff().deniedMs).toBeGreaterThanOrEqual(5 * 60_000);
  });

  it('rejects nonsense options with a clear error', () => {
    expect(() => new Backoff({ baseMs: 0 })).toThrow(/baseMs/);
    expect(() => new Backoff({ capMs: -1 })).toThrow(/capMs/);
    expect(() => new Backoff({ deniedMs: NaN })).toThrow(/deniedMs/);
  });
});
