// Codec throughput: encodeFrame + FrameDecoder (prefix, strict shape checks) against raw @msgpack/msgpack
// encode + decode of the same arrays with reused Encoder/Decoder instances (the fastest way to use the library).
// Both sides run alternately in the same process so CPU noise hits them equally.
import { Decoder, Encoder } from '@msgpack/msgpack';
import { type WireFrame } from '../src-shared/view-models';
import { FrameDecoder, encodeFrame } from '../src-main/agent/protocol/codec';
import { logFrame, resultFrame, telemetryFrame } from '../src-main/agent/protocol/frames';
import type { BenchResult } from './types';

const GROUP = 'test-group-2';
const SERVER = '5d1d4b42-51d1-4b8a-9a57-0e0e8c1c6a11';
const COMMAND = '9f0c2a4e-3b1d-4c5e-8f60-1a2b3c4d5e6f';

/** A deterministic mix shaped like the golden vectors: mostly logs, telemetry, some command results. */
function corpus(count: number): WireFrame[] {
  const frames: WireFrame[] = [];
  const words = [
    'sshd[123]:',
    'Accepted',
    'publickey',
    'for',
    'root',
    'from',
    '10.0.0.7',
    'port',
    '52144',
    'ssh2',
    'café',
    '✓',
  ];
  for (let i = 0; i < count; i++) {
    const kind = i % 10;
    if (kind < 6) {
      const n = 6 + ((i * 7) % 40);
      const message = Array.from({ length: n }, (_, j) => words[(i + j) % words.length]).join(' ');
      frames.push(logFrame(GROUP, SERVER, i % 2 ? 'syslog' : 'auth.log', message));
    } else if (kind < 9) {
      frames.push(
        kind === 8
          ? telemetryFrame(
              GROUP,
              SERVER,
              `JSON:{"disk_usage":[{"filesystem":"/dev/sda${i % 4}","used":"${i}","capacity":"1%"}]}`,
              [],
            )
          : telemetryFrame(GROUP, SERVER, i % 2 ? 'load_avg' : 'mem_used_kb', [
              String((i * 0.37).toFixed(2)),
            ]),
      );
    } else {
      frames.push(
        resultFrame(
          GROUP,
          SERVER,
          COMMAND,
          ` 12:01:00 up ${i} days,  3:04,  1 user,  load average: 0.52, 0.58, 0.59\n`.repeat(3),
          '',
        ),
      );
    }
  }
  return frames;
}

export async function run(): Promise<BenchResult[]> {
  const frames = corpus(2000);
  const rawEncoder = new Encoder();
  const rawDecoder = new Decoder();
  let sink = 0;

  const ours = (): void => {
    const decoder = new FrameDecoder();
    for (const frame of frames) {
      const decoded = decoder.push(encodeFrame(frame));
      sink += decoded.length;
    }
  };
  const raw = (): void => {
    for (const frame of frames) {
      const decoded = rawDecoder.decode(rawEncoder.encode(frame)) as unknown[];
      sink += decoded.length;
    }
  };
  const time = (fn: () => void): number => {
    const start = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - start) / 1e6;
  };

  for (let i = 0; i < 20; i++) {
    ours();
    raw();
  }
  const oursMs: number[] = [];
  const rawMs: number[] = [];
  for (let round = 0; round < 40; round++) {
    // Alternate which side goes first so neither always gets the warmer cache.
    if (round % 2) {
      oursMs.push(time(ours));
      rawMs.push(time(raw));
    } else {
      rawMs.push(time(raw));
      oursMs.push(time(ours));
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
  const oursMed = median(oursMs);
  const rawMed = median(rawMs);
  const bytes = frames.reduce((n, f) => n + encodeFrame(f).length, 0);
  const perSec = (ms: number): string =>
    `${Math.round(frames.length / (ms / 1000)).toLocaleString('en-US')} frames/s`;
  if (sink === 0) throw new Error('benchmark produced nothing');
  return [
    {
      name: 'codec encode+decode vs raw msgpack',
      ratio: rawMed / oursMed,
      target: 0.9,
      details:
        `${frames.length} frames (L/T/R mix, avg ${Math.round(bytes / frames.length)} B): ` +
        `ours ${perSec(oursMed)} (median ${oursMed.toFixed(2)} ms), raw Encoder+Decoder ${perSec(rawMed)} ` +
        `(median ${rawMed.toFixed(2)} ms), 40 alternating rounds`,
    },
  ];
}
