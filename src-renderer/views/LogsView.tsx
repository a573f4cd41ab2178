import { useDeferredValue, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { LogLevel } from '../../src-shared/view-models';
import { useFixedRows } from '../components/useFixedRows';
import { formatClock, formatCount } from '../format';
import { useDashboard, useStore } from '../state/context';
import { EMPTY_LOG_FILTER, LOG_LEVELS, logPredicate, type LogFilter } from './log-filter';

const ROW_HEIGHT = 22;

export function LogsView() {
  const store = useStore();
  const logsVersion = useDashboard((s) => s.logsVersion);
  const services = useDashboard((s) => s.logServices);
  const [filter, setFilter] = useState<LogFilter>(EMPTY_LOG_FILTER);
  const [follow, setFollow] = useState(true);
  // Typing stays responsive while 100k lines are re-filtered in the background.
  const deferredFilter = useDeferredValue(filter);
  const scrollRef = useRef<HTMLDivElement>(null);
  const ids = useId();

  const lines = useMemo(() => {
    void logsVersion; // the ring is mutated in place; the version says when to re-read it
    const all = store.logs.toArray();
    const isDefault = deferredFilter === EMPTY_LOG_FILTER;
    return isDefault ? all : all.filter(logPredicate(deferredFilter));
  }, [store, logsVersion, deferredFilter]);

  const rows = useFixedRows(scrollRef, lines.length, ROW_HEIGHT, 12);

  useEffect(() => {
    // Rows have a fixed height, so the bottom is known without asking the DOM: writing scrollTop (the browser
    // clamps it) avoids the forced layout that reading scrollHeight in scrollToIndex costs on every batch.
    const el = scrollRef.current;
    if (follow && lines.length > 0 && el) el.scrollTop = lines.length * ROW_HEIGHT;
  }, [follow, lines]);

  const set = <K extends keyof LogFilter>(key: K, value: LogFilter[K]): void =>
    setFilter((f) => ({ ...f, [key]: value }));

  const pauseOnUserScroll = (event: KeyboardEvent<HTMLDivElement>): void => {
    if (['ArrowUp', 'PageUp', 'Home'].includes(event.key)) setFollow(false);
  };

  return (
    <div className="view logs">
      <div className="toolbar" role="toolbar" aria-label="Log filters">
        <label className="field-inline">
          <span>Source</span>
          <select
            value={filter.source}
            onChange={(e) => set('source', e.target.value as LogFilter['source'])}
          >
            <option value="all">All</option>
            <option value="shipped">Shipped</option>
            <option value="agent">Agent</option>
          </select>
        </label>
        <label className="field-inline">
          <span>Service</span>
          <select value={filter.service} onChange={(e) => set('service', e.target.value)}>
            <option value="">All services</option>
            {services.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label className="field-inline">
          <span>Level</span>
          <select value={filter.minLevel} onChange={(e) => set('minLevel', e.target.value as LogLevel)}>
            {LOG_LEVELS.map((l) => (
              <option key={l} value={l}>
                {l === 'debug' ? 'all' : `${l}+`}
              </option>
            ))}
          </select>
        </label>
        <label className="field-inline grow">
          <span className="visually-hidden">Search logs</span>
          <input
            type="search"
            placeholder="Search…"
            value={filter.text}
            onChange={(e) => set('text', e.target.value)}
          />
        </label>
        <button type="button" aria-pressed={!follow} onClick={() => setFollow((f) => !f)}>
          {follow ? 'Pause autoscroll' : 'Resume autoscroll'}
        </button>
      </div>
      <p className="muted small status-line" id={`${ids}-count`} aria-live="off" data-testid="log-count">
        {formatCount(lines.length)} of {formatCount(store.logs.size)} lines
        {store.logs.overwritten > 0
          ? ` (oldest ${formatCount(store.logs.overwritten)} dropped from view)`
          : ''}
        {follow ? '' : ' · autoscroll paused'}
      </p>
      <div
        ref={scrollRef}
        className="log-scroll"
        role="region"
        aria-label="Log lines"
        aria-describedby={`${ids}-count`}
        tabIndex={0}
        onWheel={(e) => {
          if (e.deltaY < 0) setFollow(false);
        }}
        onKeyDown={pauseOnUserScroll}
      >
        {lines.length === 0 ? (
          <p className="empty">No log lines{filter === EMPTY_LOG_FILTER ? ' yet' : ' match'}.</p>
        ) : null}
        <div className="log-canvas" style={{ height: rows.totalHeight }}>
          {lines.slice(rows.first, rows.last).map((line, offset) => {
            const index = rows.first + offset;
            return (
              <div
                key={index}
                className={`log-row level-${line.level}`}
                style={{ transform: `translateY(${index * ROW_HEIGHT}px)` }}
                data-testid="log-row"
              >
                <span className="log-time">{formatClock(line.at)}</span>
                <span className={`log-level level-${line.level}`}>{line.level}</span>
                <span className="log-service" title={line.source === 'agent' ? 'agent’s own log' : 'shipped'}>
                  {line.service}
                </span>
                <span className="log-message" title={line.message}>
                  {line.message}
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
