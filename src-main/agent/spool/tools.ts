/**
 * Offline spool tools behind `minion-agent spool stats | verify | repair`. `inspectSpool` only reads; `repairSpool`
 * runs the same recovery the agent runs on start (truncate torn tail, quarantine + salvage damaged segments).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { FRAME_CLASSES, type FrameClass } from '../../../src-shared/view-models';
import { type CursorState, readCursor } from './cursor';
import { type DeliveryMarks, readDeliveryMarks } from './delivery-marks';
import { type PerClassTally, addToTally, emptyTally, parseSegmentFileName, scanSegment } from './segment-log';
import { OWNER_FILE, type RecoveryReport, Spool, spoolPaths } from './spool';
import { isOtherProcessAlive } from './process-alive';

export interface DamagedSegment {
  segment: string;
  problems: string[];
  validRecords: number;
  /** What recovery will do (or did) about it. */
  action: string;
}

export interface SpoolInspection {
  dir: string;
  exists: boolean;
  segments: number;
  segmentBytes: number;
  cursor: { status: 'ok' | 'missing' | 'damaged'; confirmedSeq: number; state: CursorState };
  /** Records after the cursor, per class. */
  queued: PerClassTally;
  /** Records at or before the cursor still on disk (deleted once the next cursor write lands). */
  confirmedOnDisk: number;
  firstSeq: number | null;
  lastSeq: number | null;
  oldestQueuedAt: number | null;
  damaged: DamagedSegment[];
  quarantineFiles: string[];
  leftoverFiles: string[];
  /** Pid of a running agent that has this spool open, if any. */
  inUseBy: number | null;
  /** How far the last delivering agent got (advisory, `delivery.json`), or null. */
  delivery: DeliveryMarks | null;
}

async function listDir(dir: string): Promise<string[] | null> {
  try {
    return await fsp.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export async function spoolOwner(dataDir: string): Promise<number | null> {
  try {
    const pid = Number((await fsp.readFile(join(spoolPaths(dataDir).dir, OWNER_FILE), 'utf8')).trim());
    return Number.isSafeInteger(pid) && pid > 0 && isOtherProcessAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/** Reads the whole spool without changing anything. */
export async function inspectSpool(dataDir: string): Promise<SpoolInspection> {
  const paths = spoolPaths(dataDir);
  const loaded = await readCursor(paths.dir);
  const names = await listDir(paths.segments);
  const result: SpoolInspection = {
    dir: paths.dir,
    exists: names !== null,
    segments: 0,
    segmentBytes: 0,
    cursor: { status: loaded.status, confirmedSeq: loaded.state.confirmedSeq, state: loaded.state },
    queued: emptyTally(),
    confirmedOnDisk: 0,
    firstSeq: null,
    lastSeq: null,
    oldestQueuedAt: null,
    damaged: [],
    delivery: await readDeliveryMarks(paths.dir),
    quarantineFiles: (await listDir(paths.quarantine)) ?? [],
    leftoverFiles: [],
    inUseBy: await spoolOwner(dataDir),
  };
  const segs = (names ?? [])
    .map((name) => ({ name, firstSeq: parseSegmentFileName(name) }))
    .filter((s) => {
      if (s.firstSeq === null) result.leftoverFiles.push(s.name);
      return s.firstSeq !== null;
    })
    .sort((a, b) => (a.firstSeq as number) - (b.firstSeq as number));
  const confirmed = loaded.status === 'damaged' ? 0 : loaded.state.confirmedSeq;
  let lastSeq = 0;
  for (let i = 0; i < segs.length; i++) {
    const { name } = segs[i] as { name: string };
    const buf = await fsp.readFile(join(paths.segments, name));
    result.segments++;
    result.segmentBytes += buf.length;
    const scan = scanSegment(buf, lastSeq);
    for (const r of scan.records) {
      result.firstSeq ??= r.seq;
      lastSeq = r.seq;
      if (r.seq <= confirmed) {
        result.confirmedOnDisk++;
        continue;
      }
      addToTally(result.queued, r.cls, r.size);
      result.oldestQueuedAt ??= r.appendedAt;
    }
    if (scan.corrupt.length > 0) {
      const tornTail = i === segs.length - 1 && !scan.validAfterCorruption;
      result.damaged.push({
        segment: name,
        problems: scan.corrupt.map((c) => `${c.reason} at byte ${c.offset} (${c.length} bytes)`),
        validRecords: scan.records.length,
        action: tornTail
          ? `truncate the torn tail (${buf.length - scan.validPrefixEnd} bytes)`
          : `move to quarantine/ and keep the ${scan.records.length} valid records`,
      });
    }
  }
  result.lastSeq = result.firstSeq === null ? null : lastSeq;
  return result;
}

export interface RepairResult {
  before: SpoolInspection;
  recovery: RecoveryReport;
  after: SpoolInspection;
}

/** Runs start-up recovery now. Refuses (throws) while an agent has the spool open. */
export async function repairSpool(dataDir: string): Promise<RepairResult> {
  const before = await inspectSpool(dataDir);
  if (before.inUseBy !== null) {
    throw new Error(`the spool is in use by process ${before.inUseBy}; stop the agent first`);
  }
  const spool = await Spool.open(dataDir, { fsync: 'never' });
  const recovery = spool.recovery;
  await spool.close();
  return { before, recovery, after: await inspectSpool(dataDir) };
}

// ---- text output ---------------------------------------------------------------------------------------------------

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

export function formatInspection(i: SpoolInspection, now = Date.now()): string[] {
  const lines: string[] = [];
  lines.push(`spool: ${i.dir}${i.exists ? '' : ' (does not exist yet)'}`);
  if (i.inUseBy !== null) lines.push(`in use by running process ${i.inUseBy} (figures may be changing)`);
  lines.push(
    `segments: ${i.segments} (${formatBytes(i.segmentBytes)}), quarantined files: ${i.quarantineFiles.length}`,
  );
  lines.push(`cursor: ${i.cursor.status}, confirmed up to seq ${i.cursor.confirmedSeq}`);
  const d = i.delivery;
  lines.push(
    d === null
      ? 'delivery: no record of an agent delivering from this spool yet'
      : `delivery (agent pid ${d.pid}, as of ${new Date(d.at).toISOString()}): sent up to seq ${d.sentSeq}, ` +
          `received by the server up to seq ${d.receivedSeq}, confirmed up to seq ${d.confirmedSeq}; ` +
          `since that start ${d.sent} sent, ${d.receivedByServer} received by the server, ${d.confirmed} confirmed`,
  );
  lines.push(
    `records on disk: seq ${i.firstSeq ?? '-'} … ${i.lastSeq ?? '-'}, ${i.confirmedOnDisk} confirmed awaiting deletion`,
  );
  const total = FRAME_CLASSES.reduce((n, c) => n + i.queued[c].frames, 0);
  lines.push(
    `queued: ${total} frames — ` +
      FRAME_CLASSES.map(
        (c: FrameClass) => `${c} ${i.queued[c].frames} (${formatBytes(i.queued[c].bytes)})`,
      ).join(', '),
  );
  lines.push(
    i.oldestQueuedAt === null
      ? 'oldest queued: -'
      : `oldest queued: ${new Date(i.oldestQueuedAt).toISOString()} (${formatAge(now - i.oldestQueuedAt)} ago)`,
  );
  const dropped = i.cursor.state.dropped;
  const u = i.cursor.state.unreportedDrops;
  lines.push(
    `dropped while full: telemetry ${dropped.telemetry}, log ${dropped.log}, result ${dropped.result}; not yet reported: telemetry ${u.telemetry}, log ${u.log}`,
  );
  if (i.damaged.length === 0) lines.push('damaged segments: none');
  for (const s of i.damaged) {
    lines.push(`damaged: ${s.segment}: ${s.problems.join('; ')} — repair: ${s.action}`);
  }
  if (i.leftoverFiles.length > 0)
    lines.push(`leftover temp files (repair removes them): ${i.leftoverFiles.join(', ')}`);
  return lines;
}

export function formatRecovery(r: RecoveryReport): string[] {
  const lines: string[] = [];
  lines.push(`scanned ${r.segmentsScanned} segments, ${r.recordsFound} records, cursor ${r.cursor}`);
  if (r.cursorDetail) lines.push(`cursor problem: ${r.cursorDetail} (unconfirmed frames will be re-sent)`);
  if (r.tornTail)
    lines.push(`truncated the torn tail of ${r.tornTail.segment} (${r.tornTail.truncatedBytes} bytes)`);
  for (const q of r.quarantined) {
    lines.push(`quarantined ${q.segment} → ${q.movedTo}: ${q.reason}; salvaged ${q.salvagedRecords} records`);
  }
  if (r.removedFiles.length > 0) lines.push(`removed ${r.removedFiles.length} leftover/confirmed files`);
  if (!r.tornTail && r.quarantined.length === 0 && !r.cursorDetail) lines.push('nothing to repair');
  return lines;
}
