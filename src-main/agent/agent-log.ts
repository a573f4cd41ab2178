/**
 * The agent's own log plus a bounded ring of recent lines (the agent's own and the shipped ones) for the UI.
 * Secrets registered with `addSecret` are masked in every message, whatever code path produced it.
 */
import { EventEmitter } from 'node:events';
import { type LogLevel, type LogLineView } from '../../src-shared/view-models';

export type LogFormat = 'text' | 'json';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface AgentLogOptions {
  /** Lines below this level are dropped (not shown, not kept). */
  level: LogLevel;
  /** Lines kept for `recent()`. */
  ringSize: number;
  /**
   * Shipped lines recorded (ring + 'line' event) per second at most: a view of what flows, not a copy of it. A burst
   * of 100k lines would otherwise mask, keep and emit every one of them. Default 500.
   */
  shippedPerSecond: number;
  /** Where the agent's own lines are written (the CLI writes them to stderr); shipped lines are not written. */
  sink?: (line: LogLineView) => void;
}

export interface AgentLogEvents {
  line: [LogLineView];
}

export const AGENT_SERVICE = 'minion-agent';

export function formatLogLine(line: LogLineView, format: LogFormat): string {
  if (format === 'json') {
    return JSON.stringify({
      time: new Date(line.at).toISOString(),
      level: line.level,
      source: line.source,
      service: line.service,
      msg: line.message,
    });
  }
  return `${new Date(line.at).toISOString()} ${line.level.toUpperCase().padEnd(5)} ${line.message}`;
}

/**
 * Control characters as visible escapes (`\n`, `\r`, `\x1b`…): one message stays one log line, so text from argv,
 * the server or a config key can never forge a line of its own or drive the terminal that shows the log.
 */
export function escapeControlCharacters(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => {
    if (ch === '\n') return '\\n';
    if (ch === '\r') return '\\r';
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export class AgentLog extends EventEmitter<AgentLogEvents> {
  private options: AgentLogOptions;
  private readonly ring: LogLineView[] = [];
  private nextId = 1;
  private readonly secrets = new Set<string>();
  private shippedWindowStartedAt = Number.NEGATIVE_INFINITY;
  private shippedInWindow = 0;

  constructor(options: Partial<AgentLogOptions> = {}) {
    super();
    this.options = { level: 'info', ringSize: 2000, shippedPerSecond: 500, ...options };
  }

  setLevel(level: LogLevel): void {
    this.options = { ...this.options, level };
  }

  setSink(sink: ((line: LogLineView) => void) | undefined): void {
    this.options = { ...this.options, sink };
  }

  /** Masks `secret` in every later message (e.g. the group key). Short strings are ignored to avoid garbling text. */
  addSecret(secret: string): void {
    if (secret.length >= 4) this.secrets.add(secret);
  }

  debug(message: string): void {
    this.write('debug', message);
  }

  info(message: string): void {
    this.write('info', message);
  }

  warn(message: string): void {
    this.write('warn', message);
  }

  error(message: string, err?: unknown): void {
    this.write('error', err === undefined ? message : `${message}: ${errorText(err)}`);
  }

  /**
   * Records a line read from a tailed file (kept in the ring for the UI; the spool carries the real data), or only
   * counts it once this second's sample is full.
   */
  shipped(service: string, message: string, at = Date.now()): void {
    if (this.takesShippedSample(at)) this.pushShipped(service, message, at);
  }

  /**
   * `shipped` for a line the tailer handed over as bytes (`bytes[start, end)`, valid UTF-8): decoded only when this
   * second's sample takes it.
   */
  shippedBytes(service: string, bytes: Buffer, start: number, end: number, at = Date.now()): void {
    if (this.takesShippedSample(at)) this.pushShipped(service, bytes.toString('utf8', start, end), at);
  }

  private takesShippedSample(at: number): boolean {
    if (at - this.shippedWindowStartedAt >= 1000) {
      this.shippedWindowStartedAt = at;
      this.shippedInWindow = 0;
    }
    if (this.shippedInWindow >= this.options.shippedPerSecond) return false;
    this.shippedInWindow++;
    return true;
  }

  private pushShipped(service: string, message: string, at: number): void {
    this.push({
      id: this.nextId++,
      at,
      source: 'shipped',
      service,
      level: 'info',
      message: this.mask(message),
    });
  }

  /** Most recent last. */
  recent(limit: number): LogLineView[] {
    return this.ring.slice(-Math.max(0, limit));
  }

  private mask(message: string): string {
    let out = message;
    for (const secret of this.secrets) {
      if (out.includes(secret)) out = out.split(secret).join('••••••');
    }
    return out;
  }

  private write(level: LogLevel, message: string): void {
    if (LEVEL_RANK[level] < LEVEL_RANK[this.options.level]) return;
    const line: LogLineView = {
      id: this.nextId++,
      at: Date.now(),
      source: 'agent',
      service: AGENT_SERVICE,
      level,
      message: escapeControlCharacters(this.mask(message)),
    };
    this.push(line);
    this.options.sink?.(line);
  }

  private push(line: LogLineView): void {
    this.ring.push(line);
    // Trim in batches so a full ring does not shift on every line.
    if (this.ring.length > this.options.ringSize * 1.25)
      this.ring.splice(0, this.ring.length - this.options.ringSize);
    this.emit('line', line);
  }
}
