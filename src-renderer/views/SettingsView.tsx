import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { BUILTIN_TELEMETRY_LABELS, COMMAND_POLICIES, GROUP_KEY_MASK } from '../../src-shared/config';
import type {
  ConfigView,
  ConnectionTestResult,
  FieldIssue,
  IpcResult,
  SaveResult,
} from '../../src-shared/ipc';
import { CheckField, SelectField, TextField } from '../components/Fields';
import { formatBytes } from '../format';
import { useApi, useDashboard, useStore } from '../state/context';
import {
  buildPatch,
  getPath,
  isFirstRun,
  numberFromInput,
  setPath,
  sizeFromInput,
  validateDraft,
  type Draft,
} from './settings-model';

type Outcome =
  | { kind: 'saved'; result: SaveResult }
  | { kind: 'tested'; result: ConnectionTestResult }
  | { kind: 'error'; message: string }
  | { kind: 'info'; message: string };

const KEY_STORAGE_TEXT: Record<ConfigView['keyStorage'], string> = {
  'safe-storage': 'Stored encrypted with the OS keychain.',
  'basic-text': 'No OS keychain available: stored obfuscated, not encrypted.',
  'config-file': 'Stored in the YAML config file (protect its permissions).',
};

interface TailEntry {
  service: string;
  file: string;
}

export function SettingsView() {
  const api = useApi();
  const store = useStore();
  const [view, setView] = useState<ConfigView | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [serverIssues, setServerIssues] = useState<FieldIssue[]>([]);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState<null | 'save' | 'test' | 'sandbox' | 'import' | 'export'>(null);
  const [showKey, setShowKey] = useState(false);
  /** First run shows only the setup card; the full form is one click away. */
  const [showAll, setShowAll] = useState(false);
  const [exported, setExported] = useState<{ url: string; yaml: string } | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const stickyBar = useStickyBarPadding();
  // No Electron: the headless agent, where this dashboard is the only place to approve a command.
  const headless = useDashboard((s) => s.snapshot?.runtime.electron === null);

  const apply = useCallback((result: IpcResult<ConfigView>) => {
    if (result.ok) {
      setView(result.value);
      setDraft(structuredClone(result.value.config));
      setServerIssues([]);
    } else setOutcome({ kind: 'error', message: result.error.message });
  }, []);
  const load = useCallback(async () => apply(await api.getConfig()), [api, apply]);

  useEffect(() => {
    let live = true;
    void api.getConfig().then((result) => {
      if (live) apply(result);
    });
    return () => {
      live = false;
    };
  }, [api, apply]);

  useEffect(() => () => (exported ? URL.revokeObjectURL(exported.url) : undefined), [exported]);

  const issues = useMemo(() => {
    const local = draft ? validateDraft(draft) : new Map<string, string>();
    for (const i of serverIssues) if (!local.has(i.path)) local.set(i.path, i.message);
    return local;
  }, [draft, serverIssues]);

  const patch = useMemo(
    () => (view && draft ? buildPatch(view.config, draft, view.editableKeys) : {}),
    [view, draft],
  );
  const dirty = Object.keys(patch).length > 0;

  if (!view || !draft) return <p className="muted">Loading settings…</p>;

  const str = (key: string): string => {
    const v = getPath(draft, key);
    return v === undefined || v === null ? '' : String(v);
  };
  const bool = (key: string): boolean => getPath(draft, key) === true;
  const set = (key: string, value: unknown): void => {
    setDraft((d) => (d ? setPath(d, key, value) : d));
    setServerIssues((list) => list.filter((i) => i.path !== key));
    setOutcome(null);
  };
  const err = (key: string): string | undefined => issues.get(key);

  const tails = (getPath(draft, 'tail_logs') as TailEntry[] | undefined) ?? [];
  const builtins = (
    (getPath(draft, 'builtin_telemetries') as
      { label: string; arguments: Record<string, unknown> }[] | undefined) ?? []
  ).map((b) => (typeof b === 'string' ? { label: b, arguments: {} } : b));
  const toggleBuiltin = (label: string, on: boolean): void => {
    const rest = builtins.filter((b) => b.label !== label);
    set('builtin_telemetries', on ? [...rest, { label, arguments: {} }] : rest);
  };

  const fail = (error: { message: string; issues?: FieldIssue[] }): void => {
    if (error.issues?.length) setServerIssues(error.issues);
    setOutcome({ kind: 'error', message: error.message });
  };

  const save = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (issues.size > 0) {
      setOutcome({ kind: 'error', message: `Fix ${issues.size} problem(s) first.` });
      return;
    }
    setBusy('save');
    const result = await api.saveConfig({ patch });
    setBusy(null);
    if (!result.ok) return fail(result.error);
    await load();
    setOutcome({ kind: 'saved', result: result.value });
  };

  const test = async (): Promise<void> => {
    setBusy('test');
    setOutcome({ kind: 'info', message: 'Connecting and authenticating once…' });
    const result = await api.testConnection({ patch });
    setBusy(null);
    if (!result.ok) return fail(result.error);
    setOutcome({ kind: 'tested', result: result.value });
  };

  const trySandbox = async (): Promise<void> => {
    setBusy('sandbox');
    const result = await api.startSandbox();
    setBusy(null);
    if (!result.ok) return fail(result.error);
    await load();
    const { host, port, groupId } = result.value;
    store.addNotice({
      level: 'info',
      message: `Local sandbox server running on ${host}:${port} (group ${groupId}).`,
    });
    setOutcome({
      kind: 'info',
      message: `Connected to a local sandbox server at ${host}:${port}. Nothing leaves this machine.`,
    });
  };

  const importFile = async (file: File): Promise<void> => {
    setBusy('import');
    const yaml = await file.text();
    const result = await api.importYaml({ yaml });
    setBusy(null);
    if (fileRef.current) fileRef.current.value = '';
    if (!result.ok) return fail(result.error);
    await load();
    setOutcome({ kind: 'saved', result: result.value });
  };

  const exportYaml = async (): Promise<void> => {
    setBusy('export');
    const result = await api.exportYaml();
    setBusy(null);
    if (!result.ok) return fail(result.error);
    if (exported) URL.revokeObjectURL(exported.url);
    const url = URL.createObjectURL(new Blob([result.value.yaml], { type: 'application/yaml' }));
    setExported({ url, yaml: result.value.yaml });
  };

  const maxBytes = getPath(draft, 'spool.max_bytes');

  // Host, port, group and key: the setup card and the full form's Server section share them.
  const connectionFields = (
    <>
      <TextField
        label="Host"
        value={str('streamserver_host')}
        onChange={(v) => set('streamserver_host', v)}
        error={err('streamserver_host')}
        placeholder="streamserver.example.com"
      />
      <TextField
        label="Port"
        type="number"
        value={str('streamserver_port')}
        onChange={(v) => set('streamserver_port', numberFromInput(v))}
        error={err('streamserver_port')}
      />
      <TextField
        label="Group"
        value={str('group_id')}
        onChange={(v) => set('group_id', v)}
        error={err('group_id')}
      />
      <TextField
        label="Group key"
        type={showKey ? 'text' : 'password'}
        value={str('group_key') === GROUP_KEY_MASK ? '' : str('group_key')}
        placeholder={view.groupKeySet ? 'unchanged (stored)' : 'not set'}
        autoComplete="new-password"
        onChange={(v) => set('group_key', v === '' ? GROUP_KEY_MASK : v)}
        error={err('group_key')}
        hint={KEY_STORAGE_TEXT[view.keyStorage]}
        trailing={
          <button
            type="button"
            className="small"
            aria-pressed={showKey}
            onClick={() => setShowKey((s) => !s)}
          >
            {showKey ? 'Hide' : 'Show'}
          </button>
        }
      />
    </>
  );
  const status = (
    <p className="form-status" role="status" data-testid="settings-status">
      {outcome ? (
        <OutcomeText outcome={outcome} />
      ) : issues.size > 0 ? (
        `${issues.size} problem(s) to fix`
      ) : dirty ? (
        `${Object.keys(patch).length} unsaved change(s)`
      ) : (
        'No changes'
      )}
    </p>
  );
  const formButtons = (
    <div className="actions">
      <button type="button" disabled={busy !== null} onClick={() => void test()}>
        {busy === 'test' ? 'Testing…' : 'Test connection'}
      </button>
      <button type="submit" className="primary" disabled={busy !== null || !dirty || issues.size > 0}>
        {busy === 'save' ? 'Saving…' : 'Save'}
      </button>
    </div>
  );

  if (isFirstRun(view.config) && !showAll) {
    return (
      <div className="view settings">
        <section className="card setup" aria-labelledby="setup-heading" data-testid="first-run">
          <h2 id="setup-heading">Connect to your StreamServer</h2>
          <p className="muted">
            Minion Agent is not set up yet. Enter where your StreamServer runs and your group&apos;s id and
            key. Nothing is collected or sent until you save.
          </p>
          <form onSubmit={(e) => void save(e)} noValidate aria-label="Server setup">
            <div className="field-grid setup-fields">{connectionFields}</div>
            <div className="form-actions">
              {status}
              {formButtons}
            </div>
          </form>
          <div className="setup-more">
            <button type="button" disabled={busy !== null} onClick={() => void trySandbox()}>
              {busy === 'sandbox' ? 'Starting…' : 'Try with a local sandbox server'}
            </button>
            <span>
              <button type="button" className="link-button" onClick={() => setShowAll(true)}>
                All settings…
              </button>{' '}
              <span className="muted small">TLS, tailed files, telemetry, commands, YAML import</span>
            </span>
          </div>
        </section>
      </div>
    );
  }

  return (
    <div className="view settings">
      {isFirstRun(view.config) ? (
        <section className="card welcome" aria-labelledby="welcome-heading">
          <h2 id="welcome-heading">Not connected to a server yet</h2>
          <p>
            Fill in Host and Group under Server and save, or{' '}
            <button type="button" className="link-button" onClick={() => setShowAll(false)}>
              go back to the short setup
            </button>
            .
          </p>
        </section>
      ) : null}

      <form className="settings-form" onSubmit={(e) => void save(e)} noValidate aria-label="Agent settings">
        <fieldset className="card">
          <legend>Server</legend>
          <div className="field-grid">
            {connectionFields}
            <TextField
              label="Server name (shown locally only)"
              value={str('server_name')}
              onChange={(v) => set('server_name', v)}
              error={err('server_name')}
            />
          </div>
        </fieldset>

        <fieldset className="card">
          <legend>TLS</legend>
          <CheckField
            label="Use TLS"
            checked={bool('tls.enabled')}
            onChange={(v) => set('tls.enabled', v)}
            error={err('tls.enabled')}
          />
          {bool('tls.enabled') ? (
            <div className="field-grid">
              <TextField
                label="CA file"
                value={str('tls.ca_file')}
                onChange={(v) => set('tls.ca_file', v)}
                error={err('tls.ca_file')}
                hint="Empty: the system's trusted CAs"
              />
              <TextField
                label="Server name (SNI)"
                value={str('tls.server_name')}
                onChange={(v) => set('tls.server_name', v)}
                error={err('tls.server_name')}
              />
              <TextField
                label="Client certificate"
                value={str('tls.cert_file')}
                onChange={(v) => set('tls.cert_file', v)}
                error={err('tls.cert_file')}
              />
              <TextField
                label="Client key"
                value={str('tls.key_file')}
                onChange={(v) => set('tls.key_file', v)}
                error={err('tls.key_file')}
              />
              <CheckField
                label="Reject untrusted certificates"
                checked={bool('tls.reject_unauthorized')}
                onChange={(v) => set('tls.reject_unauthorized', v)}
              />
            </div>
          ) : null}
        </fieldset>

        <fieldset className="card">
          <legend>Telemetry</legend>
          <div className="field-grid">
            <TextField
              label="Interval (seconds)"
              type="number"
              value={str('telemetry_interval')}
              onChange={(v) => set('telemetry_interval', numberFromInput(v))}
              error={err('telemetry_interval')}
            />
            <TextField
              label="Heartbeat (seconds)"
              type="number"
              value={str('heartbeat_interval')}
              onChange={(v) => set('heartbeat_interval', numberFromInput(v))}
              error={err('heartbeat_interval')}
            />
          </div>
          <div className="check-row" role="group" aria-label="Built-in telemetry">
            {BUILTIN_TELEMETRY_LABELS.filter((l) => l !== 'pick_files').map((label) => (
              <CheckField
                key={label}
                label={label.replace('_', ' ')}
                checked={builtins.some((b) => b.label === label)}
                onChange={(on) => toggleBuiltin(label, on)}
              />
            ))}
          </div>
          {err('builtin_telemetries') ? <p className="field-error">{err('builtin_telemetries')}</p> : null}
        </fieldset>

        <fieldset className="card">
          <legend>Tailed files</legend>
          {tails.length === 0 ? <p className="empty">No files are tailed.</p> : null}
          <ul className="plain-list tail-list">
            {tails.map((t, i) => (
              <li key={i} className="tail-row">
                <TextField
                  label={`Service ${i + 1}`}
                  value={t.service}
                  onChange={(v) =>
                    set(
                      'tail_logs',
                      tails.map((x, j) => (j === i ? { ...x, service: v } : x)),
                    )
                  }
                  error={err(`tail_logs[${i}].service`)}
                />
                <TextField
                  label={`File ${i + 1}`}
                  value={t.file}
                  onChange={(v) =>
                    set(
                      'tail_logs',
                      tails.map((x, j) => (j === i ? { ...x, file: v } : x)),
                    )
                  }
                  error={err(`tail_logs[${i}].file`)}
                  placeholder="/var/log/app/*.log"
                />
                <button
                  type="button"
                  className="small"
                  aria-label={`Remove tailed file ${i + 1}`}
                  onClick={() =>
                    set(
                      'tail_logs',
                      tails.filter((_, j) => j !== i),
                    )
                  }
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
          <button
            type="button"
            className="small"
            onClick={() => set('tail_logs', [...tails, { service: '', file: '' }])}
          >
            Add file
          </button>
        </fieldset>

        <fieldset className="card">
          <legend>Commands from the server</legend>
          <div className="field-grid">
            <SelectField
              label="Policy"
              value={str('commands.policy') as (typeof COMMAND_POLICIES)[number]}
              options={COMMAND_POLICIES.map((p) => ({
                value: p,
                label: {
                  deny: 'Deny all',
                  allowlist: 'Allow listed only',
                  ask: 'Ask me each time',
                  allow: 'Allow all',
                }[p],
              }))}
              onChange={(v) => set('commands.policy', v)}
              error={err('commands.policy')}
              hint={
                headless && str('commands.policy') === 'ask'
                  ? 'Asked in this dashboard, in every open tab. With none open, a command waits the approval timeout, then is refused.'
                  : undefined
              }
            />
            <TextField
              label="Approval timeout (s)"
              type="number"
              value={str('commands.ask_timeout')}
              onChange={(v) => set('commands.ask_timeout', numberFromInput(v))}
              error={err('commands.ask_timeout')}
            />
            <TextField
              label="Run timeout (s)"
              type="number"
              value={str('commands.timeout')}
              onChange={(v) => set('commands.timeout', numberFromInput(v))}
              error={err('commands.timeout')}
            />
            <TextField
              label="Concurrency"
              type="number"
              value={str('commands.concurrency')}
              onChange={(v) => set('commands.concurrency', numberFromInput(v))}
              error={err('commands.concurrency')}
            />
          </div>
          <div className="field">
            <label htmlFor="allowlist">Allowlist (one pattern per line)</label>
            <textarea
              id="allowlist"
              rows={3}
              value={((getPath(draft, 'commands.allowlist') as string[] | undefined) ?? []).join('\n')}
              onChange={(e) =>
                set(
                  'commands.allowlist',
                  e.target.value.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1),
                )
              }
              aria-invalid={[...issues.keys()].some((k) => k.startsWith('commands.allowlist')) || undefined}
            />
          </div>
        </fieldset>

        <fieldset className="card">
          <legend>Spool</legend>
          <div className="field-grid">
            <TextField
              label="Size limit"
              value={str('spool.max_bytes')}
              onChange={(v) => set('spool.max_bytes', sizeFromInput(v))}
              error={err('spool.max_bytes')}
              hint={typeof maxBytes === 'number' ? formatBytes(maxBytes) : 'e.g. 1GiB or 536870912'}
            />
            <TextField
              label="Flush to disk"
              value={str('spool.fsync')}
              onChange={(v) => set('spool.fsync', /^\d+$/.test(v) ? Number(v) : v)}
              error={err('spool.fsync')}
              hint="always, never, or every N ms"
            />
          </div>
        </fieldset>

        <fieldset className="card">
          <legend>Updates and logging</legend>
          <div className="field-grid">
            <SelectField
              label="Update policy"
              value={str('updates.policy') as 'manual' | 'auto' | 'off'}
              options={[
                { value: 'manual', label: 'Ask before installing' },
                { value: 'auto', label: 'Install automatically' },
                { value: 'off', label: 'Never check' },
              ]}
              onChange={(v) => set('updates.policy', v)}
              error={err('updates.policy')}
            />
            <SelectField
              label="Channel"
              value={str('updates.channel') as 'latest' | 'beta'}
              options={[
                { value: 'latest', label: 'Stable' },
                { value: 'beta', label: 'Beta' },
              ]}
              onChange={(v) => set('updates.channel', v)}
            />
            <TextField
              label="Check every (hours)"
              type="number"
              value={str('updates.check_interval_hours')}
              onChange={(v) => set('updates.check_interval_hours', numberFromInput(v))}
              error={err('updates.check_interval_hours')}
            />
            <TextField
              label="Update feed URL"
              type="url"
              value={str('updates.feed_url')}
              onChange={(v) => set('updates.feed_url', v)}
              error={err('updates.feed_url')}
              hint="Empty: the built-in feed"
            />
            <SelectField
              label="Agent log level"
              value={str('log_level') as 'debug' | 'info' | 'warn' | 'error'}
              options={['debug', 'info', 'warn', 'error'].map((l) => ({ value: l as 'debug', label: l }))}
              onChange={(v) => set('log_level', v)}
            />
          </div>
          <CheckField
            label="Download updates in the background"
            checked={bool('updates.auto_download')}
            onChange={(v) => set('updates.auto_download', v)}
          />
        </fieldset>

        <div className="form-actions card sticky-actions" ref={stickyBar}>
          {status}
          {formButtons}
        </div>
      </form>

      <section className="card" aria-labelledby="yaml-heading">
        <h2 id="yaml-heading">YAML config</h2>
        <p className="muted small">Config file: {view.configPath ?? 'none yet (saved on first save)'}</p>
        <div className="actions">
          <label className="button-like">
            {busy === 'import' ? 'Importing…' : 'Import YAML…'}
            <input
              ref={fileRef}
              className="visually-hidden"
              type="file"
              accept=".yml,.yaml,text/yaml,application/yaml"
              onChange={(e) => {
                const file = e.target.files?.[0];
                if (file) void importFile(file);
              }}
            />
          </label>
          <button type="button" disabled={busy !== null} onClick={() => void exportYaml()}>
            Export YAML
          </button>
          {exported ? (
            <a className="button-like" href={exported.url} download="config.yml">
              Download config.yml
            </a>
          ) : null}
        </div>
        {exported ? (
          <pre
            className="mono wrap yaml-preview"
            tabIndex={0}
            aria-label="Exported YAML"
            data-testid="yaml-export"
          >
            {maskGroupKey(exported.yaml)}
          </pre>
        ) : null}
      </section>
    </div>
  );
}

/**
 * The sticky Save bar sits over the bottom of the scrolling panel; its height (which grows when a long status wraps)
 * becomes the panel's scroll padding, so a field focused or scrolled to is placed above the bar, never under it.
 */
function useStickyBarPadding(): (bar: HTMLDivElement | null) => void {
  return useCallback((bar: HTMLDivElement | null) => {
    const panel = bar?.closest<HTMLElement>('.app-main');
    if (!bar || !panel) return;
    const apply = (): void => panel.style.setProperty('--sticky-bar-height', `${bar.offsetHeight}px`);
    apply();
    const observer = new ResizeObserver(apply);
    observer.observe(bar);
    return () => {
      observer.disconnect();
      panel.style.removeProperty('--sticky-bar-height');
    };
  }, []);
}

/** The preview is for reading; the key stays in the downloaded file only (it is the person's own config). */
function maskGroupKey(yaml: string): string {
  return yaml.replace(/^(\s*group_key:[ \t]*)(?!['"]?['"]?\s*$)\S.*$/gm, `$1${GROUP_KEY_MASK}`);
}

function OutcomeText({ outcome }: { outcome: Outcome }) {
  switch (outcome.kind) {
    case 'saved': {
      const { applied, restartRequired } = outcome.result;
      return (
        <span className="ok-text">
          Saved.{applied.length ? ` Applied now: ${applied.join(', ')}.` : ''}
          {restartRequired.length ? (
            <strong className="warn-text"> Restart needed for: {restartRequired.join(', ')}.</strong>
          ) : (
            ''
          )}
        </span>
      );
    }
    case 'tested': {
      const r = outcome.result;
      return (
        <span className={r.ok ? 'ok-text' : 'bad-text'} data-testid="test-result">
          {r.ok ? 'Connection works' : 'Connection failed'}: {r.explanation}
          {r.fixHint ? ` — ${r.fixHint}` : ''} ({r.durationMs} ms)
        </span>
      );
    }
    case 'error':
      return <span className="bad-text">{outcome.message}</span>;
    case 'info':
      return <span>{outcome.message}</span>;
  }
}
