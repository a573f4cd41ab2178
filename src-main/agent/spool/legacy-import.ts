/**
 * Imports the spool files the original agent left behind (protocol.md §3.6): `$TMPDIR/minion-<group>-<pid>.log`,
 * concatenated wire frames (2-byte BE length + msgpack), no header. Each file is read in bounded chunks, every
 * frame decoded, validated and re-spooled in order (oldest file first), and the file is removed only once what was
 * imported from it is durable. Heartbeats and auth requests (the original spooled those too) are skipped: they are
 * stale. Imported frames get `withNewIdentifier(uuid)`: the original may have replayed them already, and a reused
 * UUID would fail a whole insert batch on the server (§14).
 */
import { promises as fsp } from 'node:fs';
import { type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WireFrame } from '../../../src-shared/view-models';
import { decodePayload } from '../protocol/codec';
import { frameClassOf } from '../protocol/frames';
import { withNewIdentifier } from '../protocol/uuid';
import { type Spool } from './spool';
import { isOtherProcessAlive } from './process-alive';

export interface LegacyImportOptions {
  groupId: string;
  /** Where the original agent spooled; default `$TMPDIR` or `/tmp` (os.tmpdir()). */
  tmpDir?: string;
  onProblem?: (message: string) => void;
  /** Is a process with this pid still running? Injectable for tests. */
  isProcessAlive?: (pid: number) => boolean;
}

export interface LegacyFileReport {
  path: string;
  framesRead: number;
  imported: number;
  /** Heartbeats/auth and other verbs that are never spooled. */
  skippedControl: number;
  /** Frames that decoded but failed validation, or did not decode (framing still intact). */
  invalid: number;
  /** Overflow drops while importing (the spool was full). */
  droppedByOverflow: number;
  /** Bytes at the end that do not form a frame (torn write, garbage): reported, not imported. */
  corruptTailBytes: number;
  removed: boolean;
  /** Why the file was left in place, if it was. */
  skippedBecause: string | null;
}

export interface LegacyImportReport {
  files: LegacyFileReport[];
  imported: number;
}

const CHUNK_BYTES = 1024 * 1024;

/** The legacy spool files of `groupId` in `dir`, oldest modification first (the original's replay order). */
export async function findLegacyFiles(
  dir: string,
  groupId: string,
): Promise<Array<{ path: string; pid: number | null }>> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const prefix = `minion-${groupId}-`;
  const found: Array<{ path: string; pid: number | null; mtime: number }> = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.log')) continue;
    const path = join(dir, name);
    try {
      const st = await fsp.stat(path);
      if (!st.isFile()) continue;
      const pidText = name.slice(prefix.length, -'.log'.length);
      found.push({ path, pid: /^\d+$/.test(pidText) ? Number(pidText) : null, mtime: st.mtimeMs });
    } catch {
      // Vanished meanwhile.
    }
  }
  found.sort((a, b) => a.mtime - b.mtime);
  return found.map(({ path, pid }) => ({ path, pid }));
}

export async function importLegacySpool(
  spool: Spool,
  options: LegacyImportOptions,
): Promise<LegacyImportReport> {
  const dir = options.tmpDir ?? tmpdir();
  const isAlive = options.isProcessAlive ?? isOtherProcessAlive;
  const problem = options.onProblem ?? (() => undefined);
  const report: LegacyImportReport = { files: [], imported: 0 };
  for (const { path, pid } of await findLegacyFiles(dir, options.groupId)) {
    const file: LegacyFileReport = {
      path,
      framesRead: 0,
      imported: 0,
      skippedControl: 0,
      invalid: 0,
      droppedByOverflow: 0,
      corruptTailBytes: 0,
      removed: false,
      skippedBecause: null,
    };
    report.files.push(file);
    if (pid !== null && isAlive(pid)) {
      // The original agent is still running and may be appending to it.
      file.skippedBecause = `process ${pid} (the original agent?) is still running`;
      continue;
    }
    try {
      await importFile(spool, path, file);
      // Remove only what is durable in our spool.
      await spool.sync();
      await fsp.unlink(path);
      file.removed = true;
    } catch (e) {
      file.skippedBecause = `import failed: ${(e as Error).message}`;
      problem(`legacy spool ${path} not imported: ${(e as Error).message}`);
    }
    report.imported += file.imported;
    if (file.corruptTailBytes > 0 || file.invalid > 0) {
      problem(
        `legacy spool ${path}: ${file.imported} frames imported, ${file.invalid} invalid frames skipped, ` +
          `${file.corruptTailBytes} bytes of damaged tail discarded`,
      );
    }
  }
  return report;
}

async function importFile(spool: Spool, path: string, file: LegacyFileReport): Promise<void> {
  const handle = await fsp.open(path, 'r');
  try {
    // Carry-over buffer: big enough for one maximal frame plus a chunk.
    const buf = Buffer.allocUnsafe(CHUNK_BYTES + 65_537);
    let start = 0;
    let end = 0;
    let position = 0;
    let eof = false;
    while (!eof || end - start > 0) {
      if (!eof && end - start < 65_537) {
        if (start > 0) {
          buf.copy(buf, 0, start, end);
          end -= start;
          start = 0;
        }
        const { bytesRead } = await handle.read(buf, end, buf.length - end, position);
        position += bytesRead;
        end += bytesRead;
        if (bytesRead === 0) eof = true;
      }
      if (end - start < 2) {
        if (eof) {
          file.corruptTailBytes += end - start;
          break;
        }
        continue;
      }
      const length = ((buf[start] as number) << 8) | (buf[start + 1] as number);
      if (length === 0) {
        // Framing is lost from here on: everything left is a damaged tail.
        file.corruptTailBytes += end - start + (await remaining(handle, position));
        break;
      }
      if (end - start < 2 + length) {
        if (eof) {
          file.corruptTailBytes += end - start;
          break;
        }
        continue;
      }
      const payload = buf.subarray(start + 2, start + 2 + length);
      start += 2 + length;
      file.framesRead++;
      importFrame(spool, payload, file);
    }
  } finally {
    await handle.close();
  }
}

async function remaining(handle: FileHandle, position: number): Promise<number> {
  const st = await handle.stat();
  return Math.max(0, st.size - position);
}

function importFrame(spool: Spool, payload: Uint8Array, file: LegacyFileReport): void {
  let frame: WireFrame;
  try {
    frame = decodePayload(payload);
  } catch {
    file.invalid++;
    return;
  }
  const cls = frameClassOf(frame);
  if (cls === null) {
    file.skippedControl++;
    return;
  }
  try {
    const renamed: WireFrame = [frame[0], withNewIdentifier(frame[1]), frame[2]];
    const result = spool.append(cls, renamed);
    if (result.dropped) file.droppedByOverflow++;
    else file.imported++;
  } catch {
    file.invalid++;
  }
}
