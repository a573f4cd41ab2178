import { useState } from 'react';
import type { ApprovalRequestView, CommandDecision, CommandRecordView } from '../../src-shared/view-models';
import { useNow } from '../components/hooks';
import { formatBytes, formatDateTime, formatDuration } from '../format';
import { useApi, useDashboard, useStore } from '../state/context';

const DECISION_TONE: Record<CommandDecision, string> = {
  allowed: 'ok',
  approved: 'ok',
  denied: 'bad',
  rejected: 'bad',
  'timed-out': 'warn',
  unknown: 'idle',
};

function ApprovalCard({ approval, now }: { approval: ApprovalRequestView; now: number }) {
  const api = useApi();
  const store = useStore();
  const [busy, setBusy] = useState(false);
  const remaining = Math.max(0, approval.expiresAt - now);
  const expired = remaining === 0;

  const decide = async (approve: boolean): Promise<void> => {
    setBusy(true);
    store.markDecidedHere(approval.id);
    const result = await api.decideApproval({ id: approval.id, approve });
    setBusy(false);
    if (!result.ok) store.addNotice({ level: 'error', message: result.error.message });
    else if (!result.value.decided)
      store.addNotice({ level: 'warn', message: 'That request was already decided or has expired.' });
  };

  return (
    <li className="card approval" data-testid="approval">
      <div className="card-head">
        <h3 className="mono wrap">{approval.commandLine}</h3>
        <span
          className={`countdown ${remaining < 10_000 ? 'is-bad' : ''}`}
          aria-label={`Expires in ${formatDuration(remaining)}`}
        >
          {expired ? 'expired' : formatDuration(remaining)}
        </span>
      </div>
      <p className="muted small">
        {approval.type} · requested {formatDateTime(approval.requestedAt)} · refused automatically when the
        time runs out
      </p>
      <div className="actions">
        <button
          type="button"
          className="primary"
          disabled={busy || expired}
          onClick={() => void decide(true)}
        >
          Approve
        </button>
        <button
          type="button"
          className="danger"
          disabled={busy || expired}
          onClick={() => void decide(false)}
        >
          Deny
        </button>
      </div>
    </li>
  );
}

function Output({ label, text, cut }: { label: string; text: string; cut: number }) {
  if (!text && cut === 0) return null;
  return (
    <div className="output">
      <h4>{label}</h4>
      <pre className="mono wrap" data-testid={`cmd-${label}`}>
        {text}
        {cut > 0 ? <span className="truncation-mark">{`\n… ${formatBytes(cut)} cut`}</span> : null}
      </pre>
    </div>
  );
}

function CommandRow({ record }: { record: CommandRecordView }) {
  const [open, setOpen] = useState(false);
  const command = [record.type, ...record.argv].join(' ');
  const refused =
    record.decision === 'denied' || record.decision === 'rejected' || record.decision === 'timed-out';
  const exit = record.timedOut
    ? 'timed out'
    : record.signal
      ? record.signal
      : record.exitCode !== null
        ? `exit ${record.exitCode}`
        : refused
          ? 'not run'
          : record.state.replace(/-/g, ' ');
  return (
    <li className="command" data-testid="command-row">
      <button type="button" className="command-row" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
        <span className="muted figure">{formatDateTime(record.receivedAt)}</span>
        <span className="mono truncate command-line" title={command}>
          {command}
        </span>
        <span className={`pill tone-${DECISION_TONE[record.decision]}`}>
          {/* Not decided yet reads as "pending", not as an unknown outcome. */}
          {record.decision === 'unknown' && record.state === 'awaiting-approval'
            ? 'pending'
            : record.decision}
        </span>
        <span className={`figure ${record.exitCode !== null && record.exitCode !== 0 ? 'is-bad' : ''}`}>
          {exit}
        </span>
        <span className="muted figure">{formatDuration(record.durationMs)}</span>
      </button>
      {open ? (
        <div className="command-output">
          <p className="muted small mono">{record.uuid}</p>
          <Output label="stdout" text={record.stdout} cut={record.stdoutBytesCut} />
          <Output label="stderr" text={record.stderr} cut={record.stderrBytesCut} />
          {!record.stdout && !record.stderr && record.stdoutBytesCut + record.stderrBytesCut === 0 ? (
            <p className="empty">No output.</p>
          ) : null}
        </div>
      ) : null}
    </li>
  );
}

export function CommandsView() {
  const approvals = useDashboard((s) => s.approvals);
  const commands = useDashboard((s) => s.commands);
  const now = useNow(500);
  return (
    <div className="view commands">
      <section aria-labelledby="approvals-heading">
        <h2 id="approvals-heading">Waiting for your approval</h2>
        {approvals.length === 0 ? (
          <p className="empty">Nothing is waiting. Commands under the “ask” policy show up here.</p>
        ) : (
          <ul className="plain-list">
            {approvals.map((a) => (
              <ApprovalCard key={a.id} approval={a} now={now} />
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="history-heading">
        <h2 id="history-heading">History</h2>
        {commands.length === 0 ? <p className="empty">No commands received yet.</p> : null}
        <ul className="plain-list command-list">
          {commands.map((c) => (
            <CommandRow key={c.uuid} record={c} />
          ))}
        </ul>
      </section>
    </div>
  );
}
