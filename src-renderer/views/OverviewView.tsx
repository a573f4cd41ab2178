import { useState } from 'react';
import { FRAME_CLASSES } from '../../src-shared/view-models';
import { formatRateValue, Meter, RateChart } from '../components/Charts';
import { useNow } from '../components/hooks';
import { StateBadge } from '../components/StateBadge';
import { formatAgo, formatBytes, formatCount, formatDuration, formatRate, formatSpan } from '../format';
import { useApi, useDashboard, useStore } from '../state/context';

export function OverviewView() {
  const connection = useDashboard((s) => s.connection);
  const spool = useDashboard((s) => s.spool);
  const snapshot = useDashboard((s) => s.snapshot);
  const throughput = useDashboard((s) => s.throughput);
  const api = useApi();
  const store = useStore();
  const now = useNow();
  const [busy, setBusy] = useState(false);

  if (!connection || !spool) return <p className="muted">Waiting for the agent…</p>;

  const totals = FRAME_CLASSES.reduce(
    (acc, cls) => {
      const c = spool.perClass[cls];
      acc.queued += c.queuedFrames;
      acc.awaiting += c.awaitingConfirmation;
      acc.confirmed += c.confirmed;
      acc.dropped += c.dropped;
      return acc;
    },
    { queued: 0, awaiting: 0, confirmed: 0, dropped: 0 },
  );
  const latest = throughput.at(-1) ?? null;
  const linesIn = latest ? `${formatRateValue(latest.inLinesPerSec)} lines/s` : '—';
  const linesOut = latest ? `${formatRateValue(latest.outLinesPerSec)} lines/s` : '—';
  const paused = connection.state === 'paused';

  const run = async (action: 'pause' | 'resume' | 'reconnectNow'): Promise<void> => {
    setBusy(true);
    try {
      const result = await api[action]();
      if (result.ok) store.patch({ connection: result.value });
      else store.addNotice({ level: 'error', message: result.error.message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="view overview">
      <section className="card status-card" aria-labelledby="conn-heading">
        <div className="card-head">
          <h2 id="conn-heading">Connection</h2>
          <StateBadge state={connection.state} />
        </div>
        <p className="explanation" data-testid="conn-explanation">
          {connection.explanation}
        </p>
        <p className={`fix-hint ${connection.fixHint ? '' : 'is-empty'}`} data-testid="conn-fix-hint">
          {connection.fixHint ? `Fix: ${connection.fixHint}` : 'Nothing to fix.'}
        </p>
        <dl className="facts">
          <dt>Server</dt>
          <dd data-testid="server-address">
            {connection.host ? `${connection.host}:${connection.port}` : 'not configured'}
          </dd>
          <dt>TLS</dt>
          <dd>{connection.tls ? 'on' : 'off'}</dd>
          {connection.connectedSince !== null ? (
            <>
              <dt>Connected</dt>
              <dd>for {formatSpan(now - connection.connectedSince)}</dd>
            </>
          ) : (
            <>
              <dt>Offline</dt>
              <dd>
                {connection.offlineSince !== null ? `for ${formatSpan(now - connection.offlineSince)}` : '—'}
              </dd>
            </>
          )}
          <dt>Heartbeat RTT</dt>
          <dd>{connection.lastHeartbeatRttMs !== null ? `${connection.lastHeartbeatRttMs} ms` : '—'}</dd>
          <dt>Reconnects</dt>
          <dd>{formatCount(connection.reconnects)}</dd>
          <dt>Next retry</dt>
          <dd>
            {connection.nextRetryAt !== null
              ? `in ${formatDuration(Math.max(0, connection.nextRetryAt - now))}`
              : '—'}
          </dd>
          <dt>Last error</dt>
          <dd className="last-error">{connection.lastError ?? 'none'}</dd>
        </dl>
        <div className="actions">
          <button type="button" disabled={busy} onClick={() => void run(paused ? 'resume' : 'pause')}>
            {paused ? 'Resume' : 'Pause'}
          </button>
          <button type="button" disabled={busy || paused} onClick={() => void run('reconnectNow')}>
            Reconnect now
          </button>
        </div>
      </section>

      <section className="card throughput-card" aria-labelledby="throughput-heading">
        <div className="card-head">
          <h2 id="throughput-heading">Log lines</h2>
          {latest ? (
            <span className="muted small figure">{formatRate(latest.outBytesPerSec)} on the wire</span>
          ) : null}
        </div>
        <ul className="rate-legend plain-list">
          <li>
            <span className="legend-key rate-in" aria-hidden="true" /> in (read and spooled){' '}
            <strong className="figure" data-testid="lines-in-rate">
              {linesIn}
            </strong>
          </li>
          <li>
            <span className="legend-key rate-out" aria-hidden="true" /> out (sent to the server){' '}
            <strong className="figure" data-testid="lines-out-rate">
              {linesOut}
            </strong>
          </li>
        </ul>
        <RateChart
          unit="lines/s"
          windowSeconds={throughput.length}
          series={[
            { name: 'in', tone: 'rate-in', values: throughput.map((t) => t.inLinesPerSec) },
            { name: 'out', tone: 'rate-out', values: throughput.map((t) => t.outLinesPerSec) },
          ]}
          label={
            throughput.length < 2
              ? 'Log lines per second: collecting samples'
              : `Log lines per second over the last ${throughput.length} seconds: now ${linesIn} in, ${linesOut} out`
          }
        />
      </section>

      <section className="card delivery-card" aria-labelledby="delivery-heading">
        <h2 id="delivery-heading">Delivery</h2>
        <div className="counters">
          <div className="counter">
            <span className="counter-value" data-testid="total-queued">
              {formatCount(totals.queued)}
            </span>
            <span className="counter-label">queued</span>
          </div>
          <div className="counter">
            <span className="counter-value">{formatCount(totals.awaiting)}</span>
            <span className="counter-label">awaiting</span>
          </div>
          <div className="counter">
            <span className="counter-value" data-testid="total-confirmed">
              {formatCount(totals.confirmed)}
            </span>
            <span className="counter-label">confirmed</span>
          </div>
          <div className="counter">
            <span className={`counter-value ${totals.dropped > 0 ? 'is-bad' : ''}`}>
              {formatCount(totals.dropped)}
            </span>
            <span className="counter-label">dropped</span>
          </div>
        </div>
        <div className="meter-row">
          <span>Spool</span>
          <Meter
            value={spool.totalBytes}
            max={spool.maxBytes}
            label="Spool use"
            valueText={`${formatBytes(spool.totalBytes)} of ${formatBytes(spool.maxBytes)}`}
          />
          <span className="figure">
            {formatBytes(spool.totalBytes)} / {formatBytes(spool.maxBytes)}
          </span>
        </div>
        <p className="muted small">
          Oldest queued:{' '}
          {spool.oldestQueuedAt !== null ? formatAgo(spool.oldestQueuedAt, now) : 'nothing queued'}
        </p>
      </section>

      {snapshot ? (
        <section className="card agent-card" aria-labelledby="agent-heading">
          <h2 id="agent-heading">Agent</h2>
          <dl className="facts">
            <dt>Version</dt>
            <dd>{snapshot.agentVersion}</dd>
            <dt>Server id</dt>
            <dd className="mono truncate" title={snapshot.serverId}>
              {snapshot.serverId || '—'}
            </dd>
            <dt>Group</dt>
            <dd className="truncate">{snapshot.groupId || '—'}</dd>
            <dt>Running</dt>
            <dd>
              {snapshot.runtime.electron
                ? `Electron ${snapshot.runtime.electron}`
                : `Node ${snapshot.runtime.node}`}{' '}
              on {snapshot.runtime.platform}, up {formatDuration(now - snapshot.startedAt)}
            </dd>
          </dl>
        </section>
      ) : null}
    </div>
  );
}
