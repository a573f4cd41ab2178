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

/** The smallest 1, 2 or 5 × 10ⁿ at or above `value`: a scale a person can read at a glance. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((f) => f * magnitude >= value * (1 - 1e-9)) ?? 10;
  return step * magnitude;
}

/** A rate like 0.5, 12 or 1,250 with as many decimals as it needs to mean something. */
export function formatRateValue(value: number): string {
  if (value === 0) return '0';
  if (value < 10) return value.toFixed(1).replace(/\.0$/, '');
  return Math.round(value).toLocaleString('en-US');
}

export interface RateSeries {
  name: string;
  values: readonly number[];
  /** `rate-in` / `rate-out`: colour and dash, so the two lines differ without colour too. */
  tone: 'rate-in' | 'rate-out';
}

interface RateChartProps {
  series: readonly RateSeries[];
  /** e.g. "lines/s" */
  unit: string;
  label: string;
  /** Seconds the x axis covers (for its caption). */
  windowSeconds: number;
}

/** Several rates over time on one scale, with the scale (0 … a round maximum, in `unit`) written beside it. */
export function RateChart({ series, unit, label, windowSeconds }: RateChartProps) {
  const longest = Math.max(0, ...series.map((s) => s.values.length));
  const top = niceCeiling(Math.max(0, ...series.flatMap((s) => s.values)));
  const line = (values: readonly number[]): string =>
    values
      .map((v, i) => {
        // Right-aligned: the newest sample is always at "now", however many there are yet.
        const x = W - ((values.length - 1 - i) / Math.max(1, longest - 1)) * W;
        const y = H - 1 - (Math.min(top, Math.max(0, v)) / top) * (H - 2);
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join(' ');
  return (
    <figure className={`rate-chart ${longest < 2 ? 'is-empty' : ''}`} role="img" aria-label={label}>
      <div className="rate-axis" aria-hidden="true">
        <span>
          {formatRateValue(top)} {unit}
        </span>
        <span>{formatRateValue(top / 2)}</span>
        <span>0</span>
      </div>
      {longest < 2 ? (
        <div className="sparkline sparkline-empty">collecting samples…</div>
      ) : (
        <svg className="sparkline" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" aria-hidden="true">
          <line className="chart-grid" x1="0" y1="1" x2={W} y2="1" />
          <line className="chart-grid" x1="0" y1={H / 2} x2={W} y2={H / 2} />
          <line className="chart-baseline" x1="0" y1={H - 1} x2={W} y2={H - 1} />
          {series.map((s) =>
            s.values.length > 1 ? (
              <polyline key={s.name} className={`chart-line ${s.tone}`} points={line(s.values)} />
            ) : null,
          )}
        </svg>
      )}
      <div className="rate-time muted small" aria-hidden="true">
        <span>{windowSeconds} s ago</span>
        <span>now</span>
      </div>
    </figure>
  );
}
