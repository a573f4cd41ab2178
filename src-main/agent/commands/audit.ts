/**
 * Local audit log of every command the server sent, whatever happened to it: JSON lines in the data dir, rotated
 * by size (one previous generation kept), readable back for the UI. Output text is not stored — only its size.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { type CommandDecision, type CommandRecordView } from '../../../src-shared/view-models';

export interface AuditEntry {
  /** Epoch ms when the command arrived. */
  time: number;
  uuid: string;
  type: string;
  argv: string[];
  decision: CommandDecision;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number | null;
  stdoutBytes: number;
  stderrBytes: number;
  /** Bytes cut from the answer to fit the frame. */
  stdoutBytesCut: number;
  stderrBytesCut: number;
  /** Why it was refused or failed, when it was. */
  note?: string;
}

export interface AuditLogOptions {
  /** e.g. `<dataDir>/commands-audit.jsonl`; the previous generation is `<path>.1`. */
  path: string;
  /** Rotate when the current file would exceed this size. */
  maxBytes: number;
}

export class AuditLog {
  private size: number;

  constructor(private readonly options: AuditLogOptions) {
    mkdirSync(dirname(options.path), { recursive: true });
    this.size = existsSync(options.path) ? statSync(options.path).size : 0;
  }

  get path(): string {
    return this.options.path;
  }

  /** Synchronous on purpose: commands are rare and the entry must be on disk before the answer leaves. */
  append(entry: AuditEntry): void {
    const line = `${JSON.stringify(entry)}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.size > 0 && this.size + bytes > this.options.maxBytes) {
      renameSync(this.options.path, `${this.options.path}.1`);
      this.size = 0;
    }
    appendFileSync(this.options.path, line, { mode: 0o600 });
    this.size += bytes;
  }

  /** Most recent entries last, at most `limit`; unreadable lines are skipped. */
  read(limit: number): AuditEntry[] {
    const entries: AuditEntry[] = [];
    for (const file of [`${this.options.path}.1`, this.options.path]) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        try {
          const parsed = JSON.parse(line) as AuditEntry;
          if (typeof parsed.uuid === 'string' && Array.isArray(parsed.argv)) entries.push(parsed);
        } catch {
          // A torn last line after a crash: skip it, keep the rest.
        }
      }
    }
    return entries.slice(-Math.max(0, limit));
  }
}

/** A record for the UI from a stored entry (its output text is not stored, only its size). */
export function auditEntryToView(entry: AuditEntry): CommandRecordView {
  return {
    uuid: entry.uuid,
    type: entry.type,
    argv: entry.argv,
    receivedAt: entry.time,
    decision: entry.decision,
    state: 'done',
    exitCode: entry.exitCode,
    signal: entry.signal,
    timedOut: entry.timedOut,
    durationMs: entry.durationMs,
    stdout: '',
    stderr: entry.note ?? '',
    stdoutBytesCut: entry.stdoutBytesCut,
    stderrBytesCut: entry.stderrBytesCut,
  };
}
