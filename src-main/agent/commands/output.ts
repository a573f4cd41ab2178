/**
 * Turns a command's captured output into the two strings of its `R` answer, within a byte budget so the frame
 * always fits the wire limit (the original broke its sender on output > ~65 KB, protocol.md §1.3).
 */
import { type RunResult } from './runner';

export interface FittedOutput {
  stdout: string;
  stderr: string;
  /** Bytes of each stream that the answer does not carry (not kept locally, or cut to fit the frame). */
  stdoutBytesCut: number;
  stderrBytesCut: number;
}

/** `[exit status 2]`, `[killed by SIGKILL after timeout 300s]`…; null when the command simply succeeded. */
export function statusLine(result: RunResult): string | null {
  if (result.queueFull) return '[refused: too many commands queued on this agent; try again later]';
  if (result.spawnError) return `[could not start: ${result.spawnError}]`;
  if (result.timedOut) {
    const how = result.signal ? `killed by ${result.signal}` : 'killed';
    return `[${how} after timeout ${formatSeconds(result.timeoutMs)}]`;
  }
  if (result.cancelled)
    return `[cancelled: the agent is stopping${result.signal ? ` (${result.signal})` : ''}]`;
  if (result.signal) return `[killed by ${result.signal}]`;
  if (result.exitCode !== null && result.exitCode !== 0) return `[exit status ${result.exitCode}]`;
  return null;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

export function truncationMarker(bytesCut: number): string {
  return `…[truncated ${bytesCut} bytes]`;
}

/** Longest prefix of `buf` that is at most `maxBytes` and does not split a UTF-8 sequence. */
function utf8Prefix(buf: Buffer, maxBytes: number): Buffer {
  if (buf.length <= maxBytes) return buf;
  let end = Math.max(0, maxBytes);
  // Step back over continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end);
}

interface Stream {
  bytes: Buffer;
  /** Bytes produced but not in `bytes` (beyond the local keep limit). */
  alreadyCut: number;
}

/** Renders one stream into at most `budget` bytes (marker included when something is cut). */
function renderStream(stream: Stream, budget: number, suffix: string): { text: string; cut: number } {
  const suffixBytes = Buffer.byteLength(suffix);
  const whole = stream.bytes.length + suffixBytes;
  if (stream.alreadyCut === 0 && whole <= budget)
    return { text: stream.bytes.toString('utf8') + suffix, cut: 0 };
  // Reserve room for the marker with the largest count it could show, so the result never exceeds the budget.
  const markerRoom = Buffer.byteLength(truncationMarker(stream.bytes.length + stream.alreadyCut)) + 1;
  const room = Math.max(0, budget - suffixBytes - markerRoom);
  const kept = utf8Prefix(stream.bytes, room);
  const cut = stream.bytes.length - kept.length + stream.alreadyCut;
  const body = kept.toString('utf8');
  const marker = truncationMarker(cut);
  const sep = body.length > 0 && !body.endsWith('\n') ? '\n' : '';
  return { text: body + sep + marker + suffix, cut };
}

/**
 * Fits stdout and stderr (plus the status line, which is never cut) into `budgetBytes` of UTF-8 in total.
 * Each stream is guaranteed half the budget; what one does not need goes to the other.
 */
export function fitOutput(result: RunResult, budgetBytes: number): FittedOutput {
  const status = statusLine(result);
  const out: Stream = { bytes: result.stdout, alreadyCut: result.stdoutTotalBytes - result.stdout.length };
  const err: Stream = { bytes: result.stderr, alreadyCut: result.stderrTotalBytes - result.stderr.length };
  const errNeedsNewline = status !== null && err.bytes.length > 0 && err.bytes[err.bytes.length - 1] !== 0x0a;
  const suffix = status === null ? '' : `${errNeedsNewline ? '\n' : ''}${status}`;
  const budget = Math.max(0, budgetBytes);

  const need = (s: Stream, extra: number): number =>
    s.alreadyCut === 0 ? s.bytes.length + extra : s.bytes.length + extra + 64; // 64: a marker always fits
  const outNeed = need(out, 0);
  const errNeed = need(err, Buffer.byteLength(suffix));
  let outBudget: number;
  let errBudget: number;
  if (outNeed + errNeed <= budget) {
    outBudget = outNeed;
    errBudget = errNeed;
  } else {
    const half = Math.floor(budget / 2);
    if (outNeed <= half) {
      outBudget = outNeed;
      errBudget = budget - outNeed;
    } else if (errNeed <= half) {
      errBudget = errNeed;
      outBudget = budget - errNeed;
    } else {
      outBudget = half;
      errBudget = budget - half;
    }
  }
  const o = renderStream(out, outBudget, '');
  const e = renderStream(err, errBudget, suffix);
  return { stdout: o.text, stderr: e.text, stdoutBytesCut: o.cut, stderrBytesCut: e.cut };
}
