/**
 * Crash test: a child process appends continuously and reports durable sequences; it is SIGKILLed at random
 * moments (also during its start-up recovery) ≥ 50 times. Every start checks what recovery left (contiguous from
 * the cursor, in order, byte-exact) before appending; the parent checks that every record reported durable (and
 * not yet confirmed) is among them, nothing was quarantined, the cursor never went back, and no start got stuck.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Spool } from '../../../src-main/agent/spool/spool';
import { tempDir } from './helpers';

const KILLS = Number(process.env.SPOOL_CRASH_KILLS ?? 50);
const policies = ['10', 'always', 'never', '1'];

let work: { dir: string; cleanup: () => void };
let childJs: string;

beforeAll(async () => {
  work = tempDir('spool-crash-');
  childJs = join(work.dir, 'child.js');
  // Bundled once: starting `node child.js` is much cheaper than a TypeScript loader 50+ times.
  await build({
    entryPoints: [join(__dirname, '../../../scripts/spool-crash-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: childJs,
    logLevel: 'silent',
  });
});

afterAll(() => work.cleanup());

interface Ready {
  lastSeqAtOpen: number;
  confirmedSeq: number;
  lastContiguousSeq: number;
  quarantined: number;
  status: string;
}

interface Run {
  child: ChildProcess;
  ready: Promise<Ready>;
  durableHigh: () => number;
  exited: Promise<void>;
}

function startChild(dataDir: string, policy: string): Run {
  const child = spawn(process.execPath, [childJs, dataDir, policy], { stdio: ['ignore', 'pipe', 'pipe'] });
  let durable = 0;
  let buffered = '';
  let stderr = '';
  let resolveReady: (v: Ready) => void = () => undefined;
  let rejectReady: (e: Error) => void = () => undefined;
  const ready = new Promise<Ready>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => undefined);
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, a, b, c, d, e] = line.split(' ');
      if (kind === 'D') durable = Math.max(durable, Number(a));
      else if (kind === 'R') {
        resolveReady({
          lastSeqAtOpen: Number(a),
          confirmedSeq: Number(b),
          lastContiguousSeq: Number(c),
          quarantined: Number(d),
          status: e ?? '',
        });
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') rejectReady(new Error(`child exited ${code} ${signal}: ${stderr}`));
      resolve();
    }),
  );
  return { child, ready, durableHigh: () => durable, exited };
}

async function kill(run: Run): Promise<void> {
  run.child.kill('SIGKILL');
  await run.exited;
}

async function readyOrStuck(run: Run): Promise<Ready> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run.ready,
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error('stuck start: no ready within 20 s')), 20_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('spool crash safety (SIGKILL)', () => {
  it(`keeps every durable record through ${KILLS} random kills`, { timeout: 300_000 }, async () => {
    const dataDir = join(work.dir, 'data');
    let durableHigh = 0;
    let lastCursor = 0;
    let random = 987654321;
    const rand = (n: number): number => {
      random = (random * 48271) % 2147483647;
      return random % n;
    };
    let killsDuringStart = 0;
    let verifiedStarts = 0;
    for (let i = 0; i <= KILLS; i++) {
      const run = startChild(dataDir, policies[i % policies.length] as string);
      if (i % 5 === 4) {
        // Kill at a random moment right after spawn, often inside the recovery scan.
        await new Promise((r) => setTimeout(r, rand(300)));
        await kill(run);
        killsDuringStart++;
        durableHigh = Math.max(durableHigh, run.durableHigh());
        continue;
      }
      const ready = await readyOrStuck(run);
      verifiedStarts++;
      expect(ready.status).toBe('ok');
      expect(ready.quarantined).toBe(0);
      expect(ready.confirmedSeq).toBeGreaterThanOrEqual(lastCursor);
      lastCursor = ready.confirmedSeq;
      // Everything reported durable by earlier runs and not confirmed since is still there.
      expect(ready.lastContiguousSeq).toBeGreaterThanOrEqual(Math.max(durableHigh, ready.confirmedSeq));
      expect(ready.lastSeqAtOpen).toBe(Math.max(ready.lastContiguousSeq, ready.lastSeqAtOpen));
      if (i === KILLS) {
        await kill(run);
        break;
      }
      await new Promise((r) => setTimeout(r, 20 + rand(200)));
      await kill(run);
      durableHigh = Math.max(durableHigh, run.durableHigh());
    }
    expect(durableHigh).toBeGreaterThan(1000);
    expect(killsDuringStart).toBeGreaterThanOrEqual(Math.floor(KILLS / 5));
    expect(verifiedStarts).toBeGreaterThanOrEqual(KILLS - killsDuringStart);

    // The parent's own open agrees.
    const spool = await Spool.open(dataDir, { fsync: 'never' });
    expect(spool.recovery.quarantined).toEqual([]);
    expect(spool.lastSeqAtOpen).toBeGreaterThanOrEqual(durableHigh);
    await spool.close();
  });
});
