/**
 * Crash-test child (test/agent/spool/crash.test.ts): opens the spool, appends log frames as fast as it can and
 * prints every sequence the spool reports durable. The parent SIGKILLs it at random moments and checks that every
 * reported-durable record is still there after restart.
 *
 *   node spool-crash-child.js <dataDir> <always|never|N(ms)>
 *
 * stdout lines:  R <lastSeqAtOpen> <confirmedSeq> <lastContiguousSeq> <quarantined> <ok|FAIL:why>
 *                                                  ready: recovery done and the records checked
 *                D <seq>                            everything ≤ seq is durable
 * It also confirms (like the delivery pump after a barrier) everything older than 1000 records, so the cursor and
 * segment deletion run under the same crashes.
 */
import { decodeFrame } from '../src-main/agent/protocol/codec';
import { type FsyncPolicy, Spool } from '../src-main/agent/spool/spool';
import { emptyTally } from '../src-main/agent/spool/segment-log';

const GROUP = 'crash-group';
const SERVER = '5d7a2c3e-1b4f-4e8a-9c6d-0f1e2d3c4b5a';
const UUID_TIME = '00000000-000e-d6b3-3539';

async function main(): Promise<void> {
  const [dataDir, policyArg] = process.argv.slice(2);
  if (!dataDir || !policyArg) throw new Error('usage: spool-crash-child <dataDir> <always|never|ms>');
  const fsync: FsyncPolicy = policyArg === 'always' || policyArg === 'never' ? policyArg : Number(policyArg);
  const spool = await Spool.open(dataDir, { fsync, segmentBytes: 64 * 1024 });
  // Check what recovery left before appending: contiguous from the cursor, in order, each text matching its seq.
  const reader = spool.createReader();
  let expected = spool.confirmedSeq + 1;
  let problem = 'ok';
  for (;;) {
    const batch = await reader.read(1000);
    if (batch.length === 0 || problem !== 'ok') break;
    for (const r of batch) {
      const text = decodeFrame(r.payload)[2][3];
      if (r.seq !== expected || text !== `s${r.seq}`) {
        problem = `seq ${r.seq} (text ${String(text)}) where ${expected} was expected`;
        break;
      }
      expected++;
    }
  }
  await reader.close();
  const status = problem === 'ok' ? 'ok' : `FAIL:${problem.replace(/ /g, '_')}`;
  const quarantined = spool.recovery.quarantined.length;
  process.stdout.write(
    `R ${spool.lastSeqAtOpen} ${spool.confirmedSeq} ${expected - 1} ${quarantined} ${status}\n`,
  );
  spool.on('durable', (seq) => process.stdout.write(`D ${seq}\n`));
  let id = 0;
  const burst = (): void => {
    for (let i = 0; i < 50; i++) {
      const seq = spool.lastSeq + 1;
      // A deterministic, valid Minion UUID per record (time bytes fixed, identifier = counter).
      const identifier = (id++ % 2 ** 48).toString(16).padStart(12, '0');
      spool.append('log', ['L', `${UUID_TIME}-${identifier}`, [GROUP, SERVER, 'crash', `s${seq}`]]);
    }
    setImmediate(burst);
  };
  burst();
  setInterval(() => {
    const upTo = spool.durableSeq - 1000;
    if (upTo > spool.confirmedSeq) {
      const frames = upTo - spool.confirmedSeq;
      spool.confirm(upTo, { ...emptyTally(), log: { frames, bytes: frames * 100 } }, null);
    }
  }, 20);
}

main().catch((e: unknown) => {
  process.stderr.write(`crash child failed: ${String(e)}\n`);
  process.exit(2);
});
