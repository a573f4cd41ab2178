import type { FrameData } from '../../src-shared/view-models';

/** Renders frame data decoded: `JSON:` strings pretty-printed, nested arrays shown as lists. */
export function decodeDataItem(item: string | string[]): string {
  if (Array.isArray(item)) return JSON.stringify(item, null, 2);
  if (item.startsWith('JSON:')) {
    try {
      return `JSON: ${JSON.stringify(JSON.parse(item.slice(5)), null, 2)}`;
    } catch {
      return item;
    }
  }
  return item;
}

const DATA_LABELS = ['group', 'server'];

export function FrameDataList({ data }: { data: FrameData }) {
  return (
    <ol className="frame-data" start={0}>
      {data.map((item, i) => (
        <li key={i}>
          <span className="muted">{DATA_LABELS[i] ?? `data[${i}]`}</span>
          <pre className="mono wrap">{decodeDataItem(item)}</pre>
        </li>
      ))}
    </ol>
  );
}

/** One line summary of a frame's payload (skipping group and server id). */
export function summarizeData(data: FrameData): string {
  return data
    .slice(2)
    .map((d) => (Array.isArray(d) ? `[${d.join(', ')}]` : d))
    .join(' · ')
    .slice(0, 300);
}
