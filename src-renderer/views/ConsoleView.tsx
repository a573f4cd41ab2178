import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import type { WireTraceEntry } from '../../src-shared/view-models';
import { FrameDataList, summarizeData } from '../components/FrameDetails';
import { formatBytes, formatClock, formatCount, hexDump } from '../format';
import { useApi, useDashboard, useStore } from '../state/context';

const VERBS = ['L', 'T', 'C', 'R', 'Q', 'S'] as const;
const VERB_NAMES: Record<string, string> = {
  L: 'log',
  T: 'telemetry',
  C: 'command',
  R: 'response',
  Q: 'query',
  S: 'set',
};
const ROW_HEIGHT = 24;
// Stable identity: a new function each render would make the virtualizer re-measure every row.
const estimateRowSize = (): number => ROW_HEIGHT;

function verbOf(entry: WireTraceEntry): string {
  return entry.frame?.[0] ?? '?';
}

export function ConsoleView() {
  const store = useStore();
  const api = useApi();
  const wireVersion = useDashboard((s) => s.wireVersion);
  const [paused, setPaused] = useState(false);
  const [frozen, setFrozen] = useState<WireTraceEntry[] | null>(null);
  const [verb, setVerb] = useState<string>('');
  const [direction, setDirection] = useState<'' | 'in' | 'out'>('');
  const [selectedId, setSelectedId] = useState<number | null>(null);
  const [showHex, setShowHex] = useState(false);
  const [line, setLine] = useState('');
  const [history, setHistory] = useState<string[]>([]);
  const [historyIndex, setHistoryIndex] = useState<number | null>(null);
  const [sendResult, setSendResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [sending, setSending] = useState(false);
  const scrollRef = useRef<HTMLDivElement>(null);

  const entries = useMemo(() => {
    void wireVersion;
    const all = frozen ?? store.wire.toArray();
    return all.filter(
      (e) =>
        (direction === '' || e.direction === direction) &&
        (verb === '' ||
          (verb === 'other' ? !VERBS.includes(verbOf(e) as (typeof VERBS)[number]) : verbOf(e) === verb)),
    );
  }, [store, wireVersion, frozen, verb, direction]);

  // TanStack Virtual returns fresh functions each render by design; the React Compiler just skips this component.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtualizer = useVirtualizer({
    count: entries.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: estimateRowSize,
    overscan: 10,
  });

  useEffect(() => {
    // Rows have a fixed height, so the bottom is known without asking the DOM: writing scrollTop (the browser
    // clamps it) avoids the forced layout that reading scrollHeight in scrollToIndex costs on every batch.
    const el = scrollRef.current;
    if (!paused && entries.length > 0 && el) el.scrollTop = entries.length * ROW_HEIGHT;
  }, [paused, entries]);

  const selected = selectedId === null ? undefined : entries.find((e) => e.id === selectedId);

  const togglePause = (): void => {
    if (paused) {
      setFrozen(null);
      setPaused(false);
    } else {
      setFrozen(store.wire.toArray());
      setPaused(true);
    }
  };

  const send = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const text = line.trim();
    if (!text) return;
    setSending(true);
    const result = await api.consoleSend({ line: text });
    setSending(false);
    setHistory((h) => [...h.filter((x) => x !== text), text].slice(-50));
    setHistoryIndex(null);
    if (result.ok) {
      setSendResult({ ok: true, text: result.value.message || `Sent ${result.value.sent} frame(s).` });
      setLine('');
    } else setSendResult({ ok: false, text: result.error.message });
  };

  const recall = (event: KeyboardEvent<HTMLInputElement>): void => {
    if (event.key !== 'ArrowUp' && event.key !== 'ArrowDown') return;
    if (history.length === 0) return;
    event.preventDefault();
    const current = historyIndex ?? history.length;
    const next = event.key === 'ArrowUp' ? Math.max(0, current - 1) : Math.min(history.length, current + 1);
    setHistoryIndex(next === history.length ? null : next);
    setLine(next === history.length ? '' : (history[next] ?? ''));
  };

  return (
    <div className="view console">
      <div className="toolbar" role="toolbar" aria-label="Wire inspector controls">
        <label className="field-inline">
          <span>Verb</span>
          <select value={verb} onChange={(e) => setVerb(e.target.value)}>
            <option value="">All</option>
            {VERBS.map((v) => (
              <option key={v} value={v}>
                {v} · {VERB_NAMES[v]}
              </option>
            ))}
            <option value="other">Other</option>
          </select>
        </label>
        <label className="field-inline">
          <span>Direction</span>
          <select value={direction} onChange={(e) => setDirection(e.target.value as '' | 'in' | 'out')}>
            <option value="">Both</option>
            <option value="in">In</option>
            <option value="out">Out</option>
          </select>
        </label>
        <button type="button" aria-pressed={paused} onClick={togglePause}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <span className="muted small figure" data-testid="wire-count">
          {formatCount(entries.length)} frames{paused ? ' (paused)' : ''}
        </span>
      </div>
      <div className={`console-body ${selected ? 'has-details' : ''}`}>
        <div
          ref={scrollRef}
          className="wire-scroll"
          role="region"
          aria-label="Frames on the wire"
          tabIndex={0}
        >
          {entries.length === 0 ? <p className="empty">No frames yet.</p> : null}
          <div className="log-canvas" style={{ height: virtualizer.getTotalSize() }}>
            {virtualizer.getVirtualItems().map((item) => {
              const e = entries[item.index];
              if (!e) return null;
              const isSelected = e.id === selectedId;
              return (
                <button
                  type="button"
                  key={item.key}
                  className={`wire-row dir-${e.direction} ${isSelected ? 'is-selected' : ''} ${e.error ? 'has-error' : ''}`}
                  style={{ transform: `translateY(${item.start}px)` }}
                  aria-pressed={isSelected}
                  data-testid="wire-row"
                  onClick={() => setSelectedId(isSelected ? null : e.id)}
                >
                  <span className="wire-dir" aria-label={e.direction === 'in' ? 'received' : 'sent'}>
                    {e.direction === 'in' ? '←' : '→'}
                  </span>
                  <span className="log-time">{formatClock(e.at)}</span>
                  <span className="verb">{verbOf(e)}</span>
                  <span className="frame-summary">
                    {e.error ? `⚠ ${e.error}` : e.frame ? summarizeData(e.frame[2]) : '(undecodable)'}
                  </span>
                  <span className="muted figure">{formatBytes(e.bytes)}</span>
                </button>
              );
            })}
          </div>
        </div>
        {selected ? (
          <section className="card wire-details" aria-label="Frame details" data-testid="wire-details">
            <div className="card-head">
              <h3>
                {selected.direction === 'in' ? 'Received' : 'Sent'} {verbOf(selected)} at{' '}
                {formatClock(selected.at)}
              </h3>
              <button
                type="button"
                className="small"
                aria-pressed={showHex}
                onClick={() => setShowHex((h) => !h)}
              >
                {showHex ? 'Decoded' : 'Hex'}
              </button>
            </div>
            {selected.error ? <p className="bad-text">{selected.error}</p> : null}
            {showHex ? (
              <pre className="mono hex">{hexDump(selected.hex)}</pre>
            ) : selected.frame ? (
              <>
                <p className="mono small truncate">uuid {selected.frame[1]}</p>
                <FrameDataList data={selected.frame[2]} />
              </>
            ) : (
              <p className="empty">Could not be decoded; see the hex view.</p>
            )}
          </section>
        ) : null}
      </div>
      <form className="console-input" onSubmit={(e) => void send(e)}>
        <label htmlFor="repl-line" className="visually-hidden">
          Frame to send (REPL syntax)
        </label>
        <input
          id="repl-line"
          className="mono grow"
          value={line}
          placeholder="log::SERVICE::MESSAGE  ·  telemetry::TYPE::V1  ·  response::ID::TEXT"
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => setLine(e.target.value)}
          onKeyDown={recall}
        />
        <button type="submit" className="primary" disabled={sending || line.trim() === ''}>
          Send
        </button>
      </form>
      <p
        className={`small status-line ${sendResult ? (sendResult.ok ? 'ok-text' : 'bad-text') : 'muted'}`}
        role="status"
        data-testid="console-result"
      >
        {sendResult?.text ??
          'Each line becomes one frame with data = [group, server, …]. ↑/↓ recall earlier lines.'}
      </p>
    </div>
  );
}
