// Long fuzz run of the streaming frame decoder: `npx tsx scripts/fuzz-decoder.ts [cases] [seed]`.
// Feeds random, mutated and garbage byte streams in random chunkings to FrameDecoder (strict and server-compatible)
// and checks that only ProtocolError is ever thrown and that every decoded frame re-encodes to itself.
// Exits 1 with the counterexample on the first violation.
import { encode as rawEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { FrameDecoder, decodeFrame, encodeFrame } from '../src-main/agent/protocol/codec';
import { ProtocolError } from '../src-main/agent/protocol/errors';
import { chunked, frameArbitrary, withPrefix } from '../test/support/byte-streams';

const cases = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
if (!Number.isSafeInteger(cases) || cases < 1) {
  console.error('usage: npx tsx scripts/fuzz-decoder.ts [cases] [seed]');
  process.exit(2);
}

const valid = frameArbitrary(60, 24).map(encodeFrame);
const mutated = fc
  .tuple(
    valid,
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
  )
  .map(([bytes, edits]) => {
    const copy = Buffer.from(bytes);
    for (const [at, value] of edits) copy[at % copy.length] = value; // may hit the prefix too
    return copy;
  });
const truncated = fc.tuple(valid, fc.nat()).map(([bytes, n]) => bytes.subarray(0, n % bytes.length));
const garbageMsgpack = fc.anything({ maxDepth: 4, withTypedArray: true }).map((v) => {
  try {
    return withPrefix(rawEncode(v));
  } catch {
    return Buffer.from([0, 1, 0xc1]);
  }
});
const prefixedNoise = fc.uint8Array({ minLength: 1, maxLength: 120 }).map(withPrefix);
const noise = fc.uint8Array({ maxLength: 128 });
const piece = fc.oneof(valid, mutated, mutated, truncated, garbageMsgpack, prefixedNoise, noise);

let framesDecoded = 0;
let bytesFed = 0;
const errorCodes: Record<string, number> = {};
const started = Date.now();
const result = fc.check(
  fc.property(
    fc.array(piece, { minLength: 1, maxLength: 6 }),
    fc.array(fc.nat(), { maxLength: 10 }),
    fc.boolean(),
    (pieces, cuts, serverCompatible) => {
      const decoder = new FrameDecoder({ serverCompatible });
      const stream = Buffer.concat(pieces);
      bytesFed += stream.length;
      try {
        for (const chunk of chunked(stream, cuts)) {
          for (const frame of decoder.push(chunk)) {
            framesDecoded++;
            // A decoded frame is well-typed and stable under re-encoding.
            if (!isDeepStrictEqual(decodeFrame(encodeFrame(frame)), frame)) return false;
          }
        }
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        errorCodes[e.code] = (errorCodes[e.code] ?? 0) + 1;
      }
      return true;
    },
  ),
  { numRuns: cases, seed, endOnFailure: true },
);

const seconds = ((Date.now() - started) / 1000).toFixed(1);
const codes = Object.entries(errorCodes)
  .sort()
  .map(([code, n]) => `${code}=${n}`)
  .join(' ');
if (result.failed) {
  console.error(
    `fuzz-decoder: FAILED after ${result.numRuns} cases (seed ${seed}, path ${result.counterexamplePath})`,
  );
  console.error('counterexample:', result.counterexample);
  console.error(result.errorInstance);
  process.exit(1);
}
console.log(
  `fuzz-decoder: ${result.numRuns} cases OK in ${seconds}s (seed ${seed}): ${framesDecoded} frames decoded, ` +
    `${(bytesFed / 1e6).toFixed(1)} MB fed, ProtocolError ${codes || 'none'}, 0 crashes`,
);
