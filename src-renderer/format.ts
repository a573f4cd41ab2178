/** Small, locale-stable formatters shared by the views (numbers use tabular figures in CSS). */

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const sign = bytes < 0 ? '-' : '';
  return `${sign}${unit === 0 ? value.toFixed(0) : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return Math.round(n).toLocaleString('en-US');
}

/** "3 s", "4 min 05 s", "2 h 10 min", "3 d 4 h" — durations people read at a glance. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** "for 5 s" style spans measured by a clock that ticks once a second: never "0 ms". */
export function formatSpan(ms: number): string {
  return ms < 1000 ? 'under a second' : formatDuration(ms);
}

export function formatAgo(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined) return '—';
  // The clock that renders ticks once a second, so anything fresher reads as "just now", never "0 ms ago".
  if (now - at < 1000) return 'just now';
  return `${formatDuration(now - at)} ago`;
}

/** Local wall-clock time with seconds, e.g. 14:03:07. */
export function formatClock(at: number): string {
  const d = new Date(at);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatDateTime(at: number | null | undefined): string {
  if (at === null || at === undefined) return '—';
  const d = new Date(at);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${formatClock(at)}`;
}

export function formatRate(bytesPerSec: number | null | undefined): string {
  if (bytesPerSec === null || bytesPerSec === undefined) return '—';
  return `${formatBytes(bytesPerSec)}/s`;
}

/** Classic 16-bytes-per-row hex dump with an ASCII column. */
export function hexDump(hex: string, maxBytes = 4096): string {
  const clean = hex.replace(/[^0-9a-fA-F]/g, '');
  const total = Math.floor(clean.length / 2);
  const shown = Math.min(total, maxBytes);
  const rows: string[] = [];
  for (let offset = 0; offset < shown; offset += 16) {
    const bytes: number[] = [];
    for (let i = offset; i < Math.min(offset + 16, shown); i += 1)
      bytes.push(parseInt(clean.slice(i * 2, i * 2 + 2), 16));
    const hexPart = bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = bytes.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    rows.push(`${offset.toString(16).padStart(6, '0')}  ${hexPart.padEnd(47)}  ${ascii}`);
  }
  if (shown < total) rows.push(`… ${formatCount(total - shown)} more bytes`);
  return rows.join('\n');
}

/** Parses the numeric reading out of a telemetry sample (`["load_avg","0.52"]`, `["0.52"]`, `"3254812.0"`). */
export function numericValue(values: readonly string[]): number | null {
  for (let i = values.length - 1; i >= 0; i -= 1) {
    const v = values[i];
    if (v === undefined || v.trim() === '') continue;
    const n = Number(v);
    if (Number.isFinite(n)) return n;
  }
  return null;
}
