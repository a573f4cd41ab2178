import { useState } from 'react';
import type { UpdateView } from '../../src-shared/view-models';
import { Meter } from '../components/Charts';
import { useNow } from '../components/hooks';
import { formatAgo, formatBytes, formatDateTime, formatRate } from '../format';
import { useApi, useDashboard, useStore } from '../state/context';
import { explainUpdateError } from './update-errors';

const STATE_TEXT: Record<UpdateView['state'], string> = {
  idle: 'Not checked yet',
  checking: 'Checking for updates…',
  available: 'An update is available',
  'not-available': 'You are up to date',
  downloading: 'Downloading the update…',
  ready: 'The update is downloaded and ready to install',
  error: 'The last update attempt failed',
  off: 'Updates are turned off',
};

const STATE_LABEL: Record<UpdateView['state'], string> = {
  idle: 'idle',
  checking: 'checking',
  available: 'available',
  'not-available': 'up to date',
  downloading: 'downloading',
  ready: 'ready',
  error: 'error',
  off: 'off',
};

export function UpdatesView() {
  const updates = useDashboard((s) => s.updates);
  const api = useApi();
  const store = useStore();
  const now = useNow(5000);
  const [busy, setBusy] = useState(false);
  if (!updates) return <p className="muted">Waiting for the agent…</p>;

  const act = async (action: 'checkForUpdates' | 'downloadUpdate' | 'installUpdate'): Promise<void> => {
    setBusy(true);
    const result = await api[action]();
    setBusy(false);
    if (result.ok) store.patch({ updates: result.value });
    else store.addNotice({ level: 'error', message: result.error.message });
  };

  const error = updates.error ? explainUpdateError(updates.error) : null;
  const downloading = updates.state === 'downloading';
  const percent = updates.percent ?? 0;

  return (
    <div className="view updates">
      <section className="card" aria-labelledby="update-heading">
        <div className="card-head">
          <h2 id="update-heading">Updates</h2>
          <span
            className={`pill tone-${updates.state === 'error' ? 'bad' : updates.state === 'ready' || updates.state === 'available' ? 'warn' : 'idle'}`}
            data-testid="update-state"
          >
            {STATE_LABEL[updates.state]}
          </span>
        </div>
        <p className="explanation">{STATE_TEXT[updates.state]}</p>
        {updates.detail ? <p className="muted">{updates.detail}</p> : null}
        {updates.installHint && updates.installHint !== updates.detail ? (
          <p className="muted" data-testid="install-hint">
            {updates.installHint}
          </p>
        ) : null}
        <dl className="facts">
          <dt>Installed</dt>
          <dd data-testid="current-version">{updates.currentVersion}</dd>
          <dt>Available</dt>
          <dd data-testid="available-version">{updates.availableVersion ?? '—'}</dd>
          {updates.legacyAnnouncedVersion ? (
            <>
              <dt>Legacy feed</dt>
              <dd>{updates.legacyAnnouncedVersion}</dd>
            </>
          ) : null}
          <dt>Size</dt>
          <dd>{formatBytes(updates.sizeBytes)}</dd>
          <dt>Last check</dt>
          <dd title={formatDateTime(updates.lastCheckAt)}>{formatAgo(updates.lastCheckAt, now)}</dd>
          <dt>Policy</dt>
          <dd>
            {{ manual: 'ask before installing', auto: 'install automatically', off: 'off' }[updates.policy]}
          </dd>
        </dl>
        <div className={`download ${downloading || updates.state === 'ready' ? '' : 'is-idle'}`}>
          <Meter
            value={updates.state === 'ready' ? 100 : percent}
            max={100}
            label="Update download"
            tone="normal"
            valueText={`${Math.round(updates.state === 'ready' ? 100 : percent)}% downloaded`}
          />
          <p className="small figure" data-testid="download-progress">
            {downloading
              ? `${Math.round(percent)}% · ${formatBytes(updates.transferred)} of ${formatBytes(updates.sizeBytes)} · ${formatRate(updates.bytesPerSecond)}`
              : updates.state === 'ready'
                ? 'Downloaded'
                : 'No download in progress'}
          </p>
        </div>
        <div className="actions">
          <button
            type="button"
            disabled={busy || updates.state === 'checking' || downloading || updates.state === 'off'}
            onClick={() => void act('checkForUpdates')}
          >
            Check now
          </button>
          {updates.state === 'available' ? (
            <button type="button" disabled={busy} onClick={() => void act('downloadUpdate')}>
              Download
            </button>
          ) : null}
          <button
            type="button"
            className="primary"
            disabled={busy || updates.state !== 'ready'}
            onClick={() => void act('installUpdate')}
          >
            Install and restart
          </button>
        </div>
      </section>
      {error ? (
        <section className="card error-card" role="alert" aria-labelledby="update-error-heading">
          <h2 id="update-error-heading">What went wrong</h2>
          <p>{error.explanation}</p>
          <p className="fix-hint">{error.hint}</p>
          <details>
            <summary>Details</summary>
            <pre className="mono wrap">{updates.error}</pre>
          </details>
        </section>
      ) : null}
      {updates.releaseNotes ? (
        <section className="card" aria-labelledby="notes-heading">
          <h2 id="notes-heading">
            Release notes {updates.availableVersion ? `for ${updates.availableVersion}` : ''}
          </h2>
          {/* Notes may contain HTML from the feed: shown as text, never injected. */}
          <pre className="wrap release-notes">{stripTags(updates.releaseNotes)}</pre>
        </section>
      ) : null}
    </div>
  );
}

function stripTags(html: string): string {
  return html
    .replace(/<(br|\/p|\/li|\/h\d)\s*\/?>/gi, '\n')
    .replace(/<li[^>]*>/gi, '• ')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
