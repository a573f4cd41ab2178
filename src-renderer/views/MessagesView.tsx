import { useState } from 'react';
import { FRAME_CLASSES, type FrameClass, type FrameView } from '../../src-shared/view-models';
import { Meter } from '../components/Charts';
import { FrameDataList, summarizeData } from '../components/FrameDetails';
import { useNow } from '../components/hooks';
import { formatAgo, formatBytes, formatClock, formatCount } from '../format';
import { useDashboard } from '../state/context';

const CLASS_LABEL: Record<FrameClass, string> = {
  log: 'Logs',
  telemetry: 'Telemetry',
  result: 'Results',
};
const CLASS_TITLE: Record<FrameClass, string> = {
  log: 'Log lines',
  telemetry: 'Telemetry samples',
  result: 'Command results',
};

type Selected = { list: 'sent' | 'queued'; index: number } | null;

function FrameList({
  title,
  frames,
  list,
  selected,
  onSelect,
}: {
  title: string;
  frames: FrameView[];
  list: 'sent' | 'queued';
  selected: Selected;
  onSelect: (s: Selected) => void;
}) {
  return (
    <section className="card frame-list-card" aria-label={title}>
      <h3>{title}</h3>
      {frames.length === 0 ? <p className="empty">None.</p> : null}
      <ul className="frame-list">
        {frames.map((frame, index) => {
          const isSelected = selected?.list === list && selected.index === index;
          return (
            <li key={`${frame.uuid}-${frame.seq ?? index}`}>
              <button
                type="button"
                className={`frame-row ${isSelected ? 'is-selected' : ''}`}
                aria-expanded={isSelected}
                onClick={() => onSelect(isSelected ? null : { list, index })}
              >
                <span className="verb">{frame.verb}</span>
                <span className="muted">{frame.cls ?? '—'}</span>
                <span className="frame-summary">{summarizeData(frame.data)}</span>
                <span className="muted figure">{formatClock(frame.at)}</span>
              </button>
              {isSelected ? (
                <div className="frame-details" data-testid="frame-details">
                  <dl className="facts">
                    <dt>Sequence</dt>
                    <dd>{frame.seq ?? '—'}</dd>
                    <dt>UUID</dt>
                    <dd className="mono truncate">{frame.uuid}</dd>
                    <dt>Size</dt>
                    <dd>{formatBytes(frame.bytes)}</dd>
                  </dl>
                  <FrameDataList data={frame.data} />
                </div>
              ) : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export function MessagesView() {
  const spool = useDashboard((s) => s.spool);
  const now = useNow();
  const [selected, setSelected] = useState<Selected>(null);
  if (!spool) return <p className="muted">Waiting for the agent…</p>;
  const { replay } = spool;

  return (
    <div className="view messages">
      <section className="card" aria-labelledby="classes-heading">
        <h2 id="classes-heading">Queued vs sent</h2>
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Frames per class">
          <table className="class-table">
            <thead>
              <tr>
                <th scope="col">Class</th>
                <th scope="col">Queued</th>
                <th scope="col">Bytes</th>
                <th scope="col" title="Written to the server since the agent started (re-sends included)">
                  Sent
                </th>
                <th scope="col" title="The server answered a heartbeat sent after them: it has read them">
                  Received by server
                </th>
                <th scope="col" title="Sent, not confirmed yet">
                  Awaiting
                </th>
                <th scope="col" title="Received, and the server outlived its flush interval afterwards">
                  Confirmed
                </th>
                <th scope="col">Dropped</th>
              </tr>
            </thead>
            <tbody>
              {FRAME_CLASSES.map((cls) => {
                const c = spool.perClass[cls];
                return (
                  <tr key={cls} data-testid={`class-${cls}`}>
                    <th scope="row" title={CLASS_TITLE[cls]}>
                      {CLASS_LABEL[cls]}
                    </th>
                    <td data-testid={`queued-${cls}`}>{formatCount(c.queuedFrames)}</td>
                    <td>{formatBytes(c.queuedBytes)}</td>
                    <td data-testid={`sent-${cls}`}>{c.sent === undefined ? '–' : formatCount(c.sent)}</td>
                    <td data-testid={`received-${cls}`}>
                      {c.receivedByServer === undefined ? '–' : formatCount(c.receivedByServer)}
                    </td>
                    <td>{formatCount(c.awaitingConfirmation)}</td>
                    <td data-testid={`confirmed-${cls}`}>{formatCount(c.confirmed)}</td>
                    <td className={c.dropped > 0 ? 'is-bad' : ''}>{formatCount(c.dropped)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        <dl className="facts">
          <dt>Oldest queued</dt>
          <dd>{spool.oldestQueuedAt !== null ? formatAgo(spool.oldestQueuedAt, now) : 'nothing queued'}</dd>
          <dt>Not yet on disk</dt>
          <dd>{formatCount(spool.notDurableFrames)} frames</dd>
          <dt>Spool</dt>
          <dd>
            {formatBytes(spool.totalBytes)} of {formatBytes(spool.maxBytes)}
          </dd>
          {spool.quarantinedSegments > 0 ? (
            <>
              <dt>Quarantined</dt>
              <dd className="is-bad">{spool.quarantinedSegments} damaged segment(s) set aside</dd>
            </>
          ) : null}
        </dl>
        <div className="meter-row">
          <span>Replay</span>
          <Meter
            value={replay.total > 0 ? replay.done : 0}
            max={replay.total > 0 ? replay.total : 1}
            label="Replay progress"
            valueText={replay.active ? `${replay.done} of ${replay.total} replayed` : 'No replay running'}
            tone="normal"
          />
          <span className="figure" data-testid="replay-status">
            {replay.active ? `${formatCount(replay.done)} / ${formatCount(replay.total)}` : 'idle'}
          </span>
        </div>
      </section>
      <div className="two-col">
        <FrameList
          title="Queued (not yet confirmed)"
          frames={spool.recentQueued}
          list="queued"
          selected={selected}
          onSelect={setSelected}
        />
        <FrameList
          title="Recently sent"
          frames={spool.recentSent}
          list="sent"
          selected={selected}
          onSelect={setSelected}
        />
      </div>
    </div>
  );
}
