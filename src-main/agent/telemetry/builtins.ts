/**
 * Built-in telemetry, wire-compatible with the original agent (protocol.md §5.1): the same names and value shapes,
 * so the server's tables and the existing UI keep working. New builtins (`cpu`, `network`, `uptime`) follow the
 * same conventions. Every collector returns samples `{ name, values }`; the frame data is
 * `[group, server, name, ...values]`, and a JSON payload travels as name `"JSON:{…}"` with no values.
 *
 * Linux reads /proc; macOS and Windows fall back to what `os` offers. A value that cannot be read is not sent
 * (the original sent `""`, which poisons the server's file destinations).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem, uptime } from 'node:os';
import { join } from 'node:path';
import type { CollectorContext, TelemetrySample } from './collector';
import { pickFiles } from './pick-files';

// Shared with pick-files.ts through collector.ts (not from here, which imports pick-files: no import cycle).
export { newCollectorState } from './collector';
export type { CollectorContext, CollectorState, TelemetrySample } from './collector';

/** Crystal prints a Float64 such as 3254812.0 with one decimal; keep that text for `mem_used_kb`. */
export function crystalFloatText(value: number): string {
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

// ---------------------------------------------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------------------------------------------

/** kB used = MemTotal − MemAvailable (older kernels without MemAvailable: − MemFree − Buffers − Cached). */
export function memUsedKbFromMeminfo(text: string): number | null {
  const fields = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+):\s+(\d+)/.exec(line);
    if (match) fields.set(match[1] ?? '', Number(match[2]));
  }
  const total = fields.get('MemTotal');
  if (total === undefined) return null;
  const available = fields.get('MemAvailable');
  if (available !== undefined) return total - available;
  const free = fields.get('MemFree');
  if (free === undefined) return null;
  return total - free - (fields.get('Buffers') ?? 0) - (fields.get('Cached') ?? 0);
}

async function memory(ctx: CollectorContext): Promise<TelemetrySample[]> {
  let usedKb: number | null = null;
  if (ctx.platform === 'linux') {
    usedKb = memUsedKbFromMeminfo(await readFile(join(ctx.procRoot, 'meminfo'), 'utf8'));
  } else {
    usedKb = Math.round((totalmem() - freemem()) / 1024);
  }
  return usedKb === null || usedKb < 0 ? [] : [{ name: 'mem_used_kb', values: [crystalFloatText(usedKb)] }];
}

// ---------------------------------------------------------------------------------------------------------------
// load_avg
// ---------------------------------------------------------------------------------------------------------------

/** First field of /proc/loadavg, as the kernel wrote it (e.g. "0.52"). */
export function loadAvgFromProc(text: string): string | null {
  const first = text.trim().split(/\s+/)[0];
  return first && /^\d+(\.\d+)?$/.test(first) ? first : null;
}

async function loadAvg(ctx: CollectorContext): Promise<TelemetrySample[]> {
  let value: string | null = null;
  if (ctx.platform === 'linux')
    value = loadAvgFromProc(await readFile(join(ctx.procRoot, 'loadavg'), 'utf8'));
  // Windows has no load average (os.loadavg() is always zeros): send nothing rather than a fake 0.
  else if (ctx.platform !== 'win32') value = (loadavg()[0] ?? 0).toFixed(2);
  return value === null ? [] : [{ name: 'load_avg', values: [value] }];
}

// ---------------------------------------------------------------------------------------------------------------
// disk_usage
// ---------------------------------------------------------------------------------------------------------------

export type DiskUsageRow = Record<string, string>;

const DF_POSIX_ROW = /^(.+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(.+)$/;

/**
 * `df -Pk` output → one object per filesystem. Keys are the lower-cased header words without `on`
 * (`filesystem`, `1024-blocks`, `used`, `available`, `capacity`, `mounted`), values stay strings as in the
 * original. A mount point or filesystem name containing spaces is kept whole.
 */
export function parseDfOutput(text: string): DiskUsageRow[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const header = lines.shift();
  if (!header) return [];
  const keys = header
    .trim()
    .split(/\s+/)
    .map((word) => word.toLowerCase())
    .filter((word) => word !== 'on');
  const rows: DiskUsageRow[] = [];
  for (const line of lines) {
    // The POSIX layout: a filesystem name may hold spaces too (macOS lists `map auto_home`), so anchor on the four
    // numeric columns and the capacity between the two names.
    const posix = keys.length === 6 ? DF_POSIX_ROW.exec(line.trim()) : null;
    if (posix) {
      const row: DiskUsageRow = {};
      keys.forEach((key, i) => (row[key] = posix[i + 1] ?? ''));
      rows.push(row);
      continue;
    }
    const parts = line.trim().split(/\s+/);
    if (parts.length < keys.length) continue;
    const fixed = parts.slice(0, keys.length - 1);
    const last = parts.slice(keys.length - 1).join(' ');
    const row: DiskUsageRow = {};
    keys.forEach((key, i) => {
      row[key] = i < keys.length - 1 ? (fixed[i] ?? '') : last;
    });
    rows.push(row);
  }
  return rows;
}

export function diskUsageSample(rows: DiskUsageRow[]): TelemetrySample {
  return { name: `JSON:${JSON.stringify({ disk_usage: rows })}`, values: [] };
}

/**
 * `JSON:{"<key>":[…]}` samples holding the items in order, as few as possible, each within `maxBytes` (a host
 * with many mounts would otherwise exceed the frame budget and send nothing). An item too big on its own is dropped.
 */
export function splitJsonListSamples(key: string, items: unknown[], maxBytes: number): TelemetrySample[] {
  const overhead = Buffer.byteLength(`JSON:{${JSON.stringify(key)}:[]}`);
  const samples: TelemetrySample[] = [];
  let batch: string[] = [];
  let size = overhead;
  const flush = () => {
    if (batch.length > 0)
      samples.push({ name: `JSON:{${JSON.stringify(key)}:[${batch.join(',')}]}`, values: [] });
    batch = [];
    size = overhead;
  };
  for (const item of items) {
    const json = JSON.stringify(item);
    const bytes = Buffer.byteLength(json) + (batch.length > 0 ? 1 : 0);
    if (overhead + Buffer.byteLength(json) > maxBytes) continue;
    if (size + bytes > maxBytes) flush();
    size += Buffer.byteLength(json) + (batch.length > 0 ? 1 : 0);
    batch.push(json);
  }
  flush();
  return samples;
}

export function runDfCommand(timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'df',
      ['-Pk'],
      { timeout: timeoutMs, maxBuffer: 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } },
      (error, stdout) => {
        // df exits 1 when one mount is unreadable (stale NFS…) but still prints the others.
        if (error && !stdout) reject(error);
        else resolve(stdout);
      },
    );
  });
}

async function diskUsage(ctx: CollectorContext): Promise<TelemetrySample[]> {
  if (ctx.platform === 'win32') return [];
  const rows = parseDfOutput(await ctx.runDf());
  return splitJsonListSamples('disk_usage', rows, ctx.maxSampleBytes);
}

// ---------------------------------------------------------------------------------------------------------------
// cpu (new): busy % of all cores since the previous sample
// ---------------------------------------------------------------------------------------------------------------

export function cpuTotals(list = cpus()): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of list) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

export function cpuPercent(
  before: { idle: number; total: number },
  after: { idle: number; total: number },
): number | null {
  const total = after.total - before.total;
  if (total <= 0) return null;
  const busy = total - (after.idle - before.idle);
  return Math.min(100, Math.max(0, (busy / total) * 100));
}

async function cpu(ctx: CollectorContext): Promise<TelemetrySample[]> {
  const now = cpuTotals(ctx.readCpus?.());
  const before = ctx.state.cpu;
  ctx.state.cpu = now;
  if (!before) return [];
  const percent = cpuPercent(before, now);
  return percent === null ? [] : [{ name: 'cpu_percent', values: [percent.toFixed(1)] }];
}

// ---------------------------------------------------------------------------------------------------------------
// network (new): bytes in/out per interface
// ---------------------------------------------------------------------------------------------------------------

export function parseProcNetDev(text: string): Map<string, { rx: number; tx: number }> {
  const counters = new Map<string, { rx: number; tx: number }>();
  for (const line of text.split('\n')) {
    const match = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!match) continue;
    const fields = (match[2] ?? '').trim().split(/\s+/).map(Number);
    // Receive: bytes packets errs drop fifo frame compressed multicast | Transmit: bytes …
    const rx = fields[0];
    const tx = fields[8];
    if (rx === undefined || tx === undefined || Number.isNaN(rx) || Number.isNaN(tx)) continue;
    counters.set(match[1] ?? '', { rx, tx });
  }
  return counters;
}

/**
 * One row per interface: `{"interface","rx_bytes","tx_bytes","rx_bytes_per_s","tx_bytes_per_s"}`; counters are the
 * kernel's totals, rates cover the time since the previous sample (absent on the first one or after a reset).
 */
export function networkRows(
  counters: Map<string, { rx: number; tx: number }>,
  previous?: { at: number; counters: Map<string, { rx: number; tx: number }> },
  at?: number,
): Record<string, string>[] {
  const seconds = previous && at !== undefined ? (at - previous.at) / 1000 : 0;
  return [...counters].map(([name, { rx, tx }]) => {
    const row: Record<string, string> = { interface: name, rx_bytes: String(rx), tx_bytes: String(tx) };
    const before = previous?.counters.get(name);
    if (before && seconds > 0 && rx >= before.rx && tx >= before.tx) {
      row.rx_bytes_per_s = ((rx - before.rx) / seconds).toFixed(1);
      row.tx_bytes_per_s = ((tx - before.tx) / seconds).toFixed(1);
    }
    return row;
  });
}

/** `JSON:{"network":[…]}` in one sample (see networkRows), or null without interfaces. */
export function networkSample(
  counters: Map<string, { rx: number; tx: number }>,
  previous?: { at: number; counters: Map<string, { rx: number; tx: number }> },
  at?: number,
): TelemetrySample | null {
  if (counters.size === 0) return null;
  return { name: `JSON:${JSON.stringify({ network: networkRows(counters, previous, at) })}`, values: [] };
}

async function network(ctx: CollectorContext): Promise<TelemetrySample[]> {
  if (ctx.platform !== 'linux') return [];
  const counters = parseProcNetDev(await readFile(join(ctx.procRoot, 'net', 'dev'), 'utf8'));
  const at = ctx.now();
  const rows = networkRows(counters, ctx.state.network, at);
  ctx.state.network = { at, counters };
  return splitJsonListSamples('network', rows, ctx.maxSampleBytes);
}

// ---------------------------------------------------------------------------------------------------------------
// uptime (new)
// ---------------------------------------------------------------------------------------------------------------

async function uptimeCollector(ctx: CollectorContext): Promise<TelemetrySample[]> {
  let seconds: number | null = null;
  if (ctx.platform === 'linux') {
    const first = (await readFile(join(ctx.procRoot, 'uptime'), 'utf8')).trim().split(/\s+/)[0];
    seconds = first ? Number(first) : null;
  } else seconds = uptime();
  return seconds === null || !Number.isFinite(seconds)
    ? []
    : [{ name: 'uptime_seconds', values: [String(Math.floor(seconds))] }];
}

// ---------------------------------------------------------------------------------------------------------------

export type BuiltinCollector = (
  ctx: CollectorContext,
  args: Record<string, unknown>,
) => Promise<TelemetrySample[]>;

export const BUILTIN_COLLECTORS: Record<string, BuiltinCollector> = {
  memory,
  load_avg: loadAvg,
  disk_usage: diskUsage,
  pick_files: (ctx, args) => pickFiles(ctx, args),
  cpu,
  network,
  uptime: uptimeCollector,
};
