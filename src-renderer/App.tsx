import { useEffect, useState } from 'react';
import { StateBadge } from './components/StateBadge';
import { Tabs, type TabItem } from './components/Tabs';
import { useDashboard, useStore } from './state/context';
import { CommandsView } from './views/CommandsView';
import { ConsoleView } from './views/ConsoleView';
import { LogsView } from './views/LogsView';
import { MessagesView } from './views/MessagesView';
import { OverviewView } from './views/OverviewView';
import { SettingsView } from './views/SettingsView';
import { TelemetryView } from './views/TelemetryView';
import { UpdatesView } from './views/UpdatesView';

export type ViewId =
  'overview' | 'logs' | 'messages' | 'commands' | 'telemetry' | 'settings' | 'updates' | 'console';

const VIEWS: Record<ViewId, () => React.JSX.Element> = {
  overview: OverviewView,
  logs: LogsView,
  messages: MessagesView,
  commands: CommandsView,
  telemetry: TelemetryView,
  settings: SettingsView,
  updates: UpdatesView,
  console: ConsoleView,
};

function initialView(): ViewId | null {
  const fromHash = window.location.hash.replace('#', '');
  return fromHash in VIEWS ? (fromHash as ViewId) : null;
}

function Notices() {
  const notices = useDashboard((s) => s.notices);
  const store = useStore();
  useEffect(() => {
    if (notices.length === 0) return;
    const timer = setTimeout(() => {
      const oldest = notices[0];
      if (oldest && oldest.level !== 'error') store.dismissNotice(oldest.id);
    }, 8000);
    return () => clearTimeout(timer);
  }, [notices, store]);
  return (
    <div className="notices" aria-live="polite">
      {notices.map((n) => (
        <div
          key={n.id}
          className={`notice notice-${n.level}`}
          role={n.level === 'error' ? 'alert' : 'status'}
        >
          <span>{n.message}</span>
          <button
            type="button"
            className="small"
            aria-label="Dismiss notice"
            onClick={() => store.dismissNotice(n.id)}
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

/**
 * A pending approval must not go unnoticed on another tab: the headless dashboard has no desktop notification, and
 * the request is refused when its timeout runs out.
 */
function ApprovalBanner({ count, onReview }: { count: number; onReview: () => void }) {
  return (
    <div className="approval-banner" role="status" data-testid="approval-banner">
      <span>{count === 1 ? 'A command is' : `${count} commands are`} waiting for your approval.</span>
      <button type="button" className="small primary" onClick={onReview}>
        Review
      </button>
    </div>
  );
}

export function App() {
  const phase = useDashboard((s) => s.phase);
  const loadError = useDashboard((s) => s.loadError);
  const connection = useDashboard((s) => s.connection);
  const approvals = useDashboard((s) => s.approvals.length);
  const updateState = useDashboard((s) => s.updates?.state);
  const [view, setView] = useState<ViewId | null>(initialView);

  // First run (no server configured) lands on Settings; afterwards the person's choice wins. Set during render
  // (React's "adjust state on prop change" pattern) so the first painted frame already shows the right view.
  if (view === null && phase === 'ready') setView(connection && !connection.host ? 'settings' : 'overview');

  const select = (id: ViewId): void => {
    setView(id);
    history.replaceState(null, '', `#${id}`);
  };

  const tabs: TabItem<ViewId>[] = [
    { id: 'overview', label: 'Overview' },
    { id: 'logs', label: 'Logs' },
    { id: 'messages', label: 'Messages' },
    { id: 'commands', label: 'Commands', badge: approvals },
    { id: 'telemetry', label: 'Telemetry' },
    { id: 'settings', label: 'Settings' },
    {
      id: 'updates',
      label: 'Updates',
      badge: updateState === 'ready' || updateState === 'available' ? 1 : 0,
    },
    { id: 'console', label: 'Console' },
  ];
  const current = view ?? 'overview';
  const View = VIEWS[current];

  return (
    <div className="app">
      <header className="app-header">
        <h1>Minion Agent</h1>
        {connection ? <StateBadge state={connection.state} /> : null}
      </header>
      <nav className="app-nav" aria-label="Dashboard sections">
        <Tabs tabs={tabs} selected={current} onSelect={select} label="Dashboard sections" />
      </nav>
      {approvals > 0 && current !== 'commands' && phase === 'ready' ? (
        <ApprovalBanner count={approvals} onReview={() => select('commands')} />
      ) : null}
      <Notices />
      <main
        className="app-main"
        role="tabpanel"
        id={`panel-${current}`}
        aria-labelledby={`tab-${current}`}
        tabIndex={-1}
      >
        {phase === 'loading' ? <p className="muted">Connecting to the agent…</p> : null}
        {phase === 'failed' ? (
          <div className="card error-card" role="alert">
            <h2>The dashboard could not reach the agent</h2>
            <p>{loadError}</p>
          </div>
        ) : null}
        {phase === 'ready' ? <View /> : null}
      </main>
    </div>
  );
}
