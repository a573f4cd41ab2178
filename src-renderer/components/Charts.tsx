/** Tiny dependency-free SVG charts. They scale with their container (viewBox + CSS width) so nothing reflows. */

interface SparklineProps {
  values: readonly number[];
  label: string;
  /** Fixed max keeps the scale steady (e.g. 100 for percentages); default: the data's max. */
  max?: number;
  className?: string;
}

const W = 200;
const H = 48;

export function Sparkline({ values, label, max, className }: SparklineProps) {
  const top = Math.max(max ?? 0, ...values, 1e-9);
  const n = values.length;
  const points = values.map((v, i) => {
    const x = n <= 1 ? W : (i / (n - 1)) * W;
    const y = H - 2 - (Math.max(0, v) / top) * (H - 4);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  if (n < 2) {
    // Same box as the chart, so the first samples arriving do not move anything.
    return (
      <div
        className={`sparkline sparkline-empty ${className ?? ''}`}
        role="img"
        aria-label={`${label}: collecting samples`}
      >
        collecting samples…
      </div>
    );
  }
  return (
    <svg
      className={`sparkline ${className ?? ''}`}
      viewBox={`0 0 ${W} ${H}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={label}
    >
      <line className="chart-baseline" x1="0" y1={H - 1} x2={W} y2={H - 1} />
      <polygon className="chart-area" points={`0,${H} ${points.join(' ')} ${W},${H}`} />
      <polyline className="chart-line" points={points.join(' ')} />
    </svg>
  );
}

interface MeterProps {
  value: number;
  max: number;
  label: string;
  /** Visible text; defaults to a percentage. */
  valueText?: string;
  tone?: 'normal' | 'warn' | 'danger';
}

/** A horizontal bar with progressbar semantics. */
export function Meter({ value, max, label, valueText, tone }: MeterProps) {
  const ratio = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
  const percent = Math.round(ratio * 100);
  const autoTone = tone ?? (ratio >= 0.9 ? 'danger' : ratio >= 0.7 ? 'warn' : 'normal');
  return (
    <div
      className={`meter meter-${autoTone}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
      aria-valuetext={valueText ?? `${percent}%`}
    >
      <svg className="meter-track" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true">
        <rect className="meter-bg" x="0" y="0" width="100" height="8" rx="2" />
        <rect className="meter-fill" x="0" y="0" width={ratio * 100} height="8" rx="2" />
      </svg>
    </div>
  );
}
