import type { TelemetrySampleView } from '../../src-shared/view-models';
import { formatBytes, numericValue } from '../format';

export interface DiskRow {
  mount: string;
  usedPercent: number;
  usedKb: number;
  sizeKb: number;
}

export type TelemetryPanel =
  | { kind: 'series'; name: string; title: string; values: number[]; latest: string; max?: number }
  | { kind: 'disks'; name: string; title: string; disks: DiskRow[] }
  | { kind: 'text'; name: string; title: string; latest: string };

const TITLES: Record<string, string> = {
  memory: 'Memory used',
  mem_used_kb: 'Memory used',
  load_avg: 'Load average',
  disk_usage: 'Disk use',
  cpu: 'CPU',
  network: 'Network',
};

function parseDisks(values: readonly string[]): DiskRow[] | null {
  const json = values.find((v) => v.startsWith('JSON:'));
  if (!json) return null;
  try {
    const parsed = JSON.parse(json.slice(5)) as { disk_usage?: Record<string, string>[] };
    if (!Array.isArray(parsed.disk_usage)) return null;
    return parsed.disk_usage.map((d) => ({
      mount: d.mounted ?? d.filesystem ?? '?',
      usedPercent: Number.parseFloat(d.capacity ?? '0') || 0,
      usedKb: Number(d.used ?? 0) || 0,
      sizeKb: Number(d['1024-blocks'] ?? 0) || 0,
    }));
  } catch {
    return null;
  }
}

/** How a reading of this series should be written for a person. */
function formatReading(name: string, values: readonly string[], value: number): string {
  const label = `${name} ${values.join(' ')}`.toLowerCase();
  if (label.includes('_kb') || name === 'memory') return formatBytes(value * 1024);
  if (label.includes('percent') || label.includes('cpu')) return `${value.toFixed(1)}%`;
  if (label.includes('bytes')) return formatBytes(value);
  return value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

/** Turns per-name sample histories into chartable panels: numbers → sparklines, `df` JSON → bars. */
export function telemetryPanels(telemetry: Record<string, TelemetrySampleView[]>): TelemetryPanel[] {
  const panels: TelemetryPanel[] = [];
  for (const name of Object.keys(telemetry).sort()) {
    const history = telemetry[name] ?? [];
    const latest = history.at(-1);
    if (!latest) continue;
    const title = TITLES[name] ?? name.replace(/_/g, ' ');
    const disks = parseDisks(latest.values);
    if (disks) {
      panels.push({ kind: 'disks', name, title, disks });
      continue;
    }
    const series = history.map((s) => numericValue(s.values)).filter((v): v is number => v !== null);
    const latestValue = numericValue(latest.values);
    if (latestValue !== null && series.length > 0) {
      const isPercent = /cpu|percent/i.test(name);
      panels.push({
        kind: 'series',
        name,
        title,
        values: series,
        latest: formatReading(name, latest.values, latestValue),
        ...(isPercent ? { max: 100 } : {}),
      });
    } else {
      panels.push({
        kind: 'text',
        name,
        title,
        latest: latest.values.join(' ').slice(0, 200) || '(empty reading)',
      });
    }
  }
  return panels;
}
