import { useMemo } from 'react';
import { Meter, Sparkline } from '../components/Charts';
import { formatBytes } from '../format';
import { useDashboard } from '../state/context';
import { telemetryPanels } from './telemetry-model';

export function TelemetryView() {
  const telemetry = useDashboard((s) => s.telemetry);
  const panels = useMemo(() => telemetryPanels(telemetry), [telemetry]);
  if (panels.length === 0)
    return (
      <p className="empty">No telemetry yet. The agent sends it once at start and then on its interval.</p>
    );
  return (
    <div className="view telemetry grid-cards">
      {panels.map((panel) => (
        <section
          className="card chart-card"
          key={panel.name}
          aria-label={panel.title}
          data-testid={`telemetry-${panel.name}`}
        >
          <div className="card-head">
            <h2>{panel.title}</h2>
            {panel.kind !== 'disks' ? <span className="figure">{panel.latest}</span> : null}
          </div>
          {panel.kind === 'series' ? (
            <Sparkline
              values={panel.values}
              {...(panel.max !== undefined ? { max: panel.max } : {})}
              label={`${panel.title} over the last ${panel.values.length} samples, now ${panel.latest}`}
            />
          ) : null}
          {panel.kind === 'disks' ? (
            <ul className="plain-list disks">
              {panel.disks.map((d) => (
                <li key={d.mount} className="meter-row">
                  <span className="mono truncate" title={d.mount}>
                    {d.mount}
                  </span>
                  <Meter
                    value={d.usedPercent}
                    max={100}
                    label={`Disk use of ${d.mount}`}
                    valueText={`${d.usedPercent}% used`}
                  />
                  <span className="figure">
                    {d.usedPercent}% of {formatBytes(d.sizeKb * 1024)}
                  </span>
                </li>
              ))}
            </ul>
          ) : null}
          {panel.kind === 'text' ? <p className="mono wrap small">{panel.latest}</p> : null}
        </section>
      ))}
    </div>
  );
}
