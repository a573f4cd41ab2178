/**
 * The one check every command's argv passes before the policy sees it and long before a process is spawned, and the
 * bounded rendering of an argv wherever it is repeated (refusals, the agent log).
 */

/** More arguments than this is not a command a person wrote; refused before the policy is asked. */
export const MAX_ARGUMENTS = 4096;
/** UTF-8 bytes of the whole argv (a `C` frame carries at most 64 KiB; other entry points are held to the same). */
export const MAX_ARGV_BYTES = 64 * 1024;
/** Bytes of an argv repeated in a refusal or a log line; the rest is cut with a mark saying how much. */
export const SHOWN_ARGV_BYTES = 512;

/** Why this argv cannot be run as given, or null. The message never repeats the arguments themselves. */
export function argvProblem(argv: readonly string[]): string | null {
  if (argv.length > MAX_ARGUMENTS)
    return `too many arguments (${argv.length}; at most ${MAX_ARGUMENTS} are accepted)`;
  let bytes = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    // A NUL cannot be passed to a process: execve would cut the argument there (and Node refuses to spawn).
    if (arg.includes('\0')) return `argument ${i} contains a NUL byte, which no process can receive`;
    bytes += Buffer.byteLength(arg);
  }
  if (bytes > MAX_ARGV_BYTES)
    return `the arguments are too large (${bytes} bytes; at most ${MAX_ARGV_BYTES} are accepted)`;
  return null;
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes (on a character boundary), with a mark saying how much was cut.
 * The mark is counted in the budget.
 */
export function cutText(text: string, maxBytes: number): string {
  const total = Buffer.byteLength(text);
  if (total <= maxBytes) return text;
  const mark = (cut: number) => `…[${cut} more bytes cut]`;
  const room = Math.max(0, maxBytes - Buffer.byteLength(mark(total)));
  const buf = Buffer.from(text);
  let end = room;
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return `${buf.subarray(0, end).toString('utf8')}${mark(total - end)}`;
}

/**
 * Whole arguments while they fit `maxBytes` (counting a space between them), and a mark counting what was left out:
 * a refusal or a log line repeats a bounded part of what the server sent, whatever it sent. An argv[0] alone too
 * large is cut itself.
 */
export function boundedArgv(
  argv: readonly string[],
  maxBytes = SHOWN_ARGV_BYTES,
): { shown: string[]; mark: string | null } {
  const shown: string[] = [];
  let used = 0;
  for (const arg of argv) {
    const size = Buffer.byteLength(arg) + (shown.length > 0 ? 1 : 0);
    if (used + size > maxBytes) break;
    shown.push(arg);
    used += size;
  }
  if (shown.length === argv.length) return { shown, mark: null };
  if (shown.length === 0) shown.push(cutText(argv[0] as string, maxBytes));
  const left = argv.slice(shown.length);
  if (left.length === 0) return { shown, mark: null };
  const bytes = left.reduce((n, a) => n + Buffer.byteLength(a), 0);
  return { shown, mark: `…[${left.length} more argument(s), ${bytes} bytes, not shown]` };
}

/** `boundedArgv` as one line (arguments joined by spaces, then the mark). */
export function boundedArgvText(argv: readonly string[], maxBytes = SHOWN_ARGV_BYTES): string {
  const { shown, mark } = boundedArgv(argv, maxBytes);
  return mark === null ? shown.join(' ') : `${shown.join(' ')} ${mark}`;
}
