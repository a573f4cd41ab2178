/**
 * The command pipeline: `C [type, argv…]` from the server → policy (and `ask` approval) → run → exactly one answer
 * via `sendResult` (the facade turns it into `R [group, server, <C uuid>, [stdout], [stderr]]`) → audit entry.
 * Every command gets an answer: unknown, refused, failed, timed out and cancelled ones too.
 */
import { EventEmitter } from 'node:events';
import { isMap, parseDocument } from 'yaml';
import { GROUP_KEY_MASK } from '../../../src-shared/config';
import {
  type ApprovalRequestView,
  type CommandDecision,
  type CommandRecordView,
  type FrameData,
} from '../../../src-shared/view-models';
import { ApprovalBroker, type ApprovalOutcome, type ApproverPresence } from './approvals';
import { argvProblem } from './argv';
import { type AuditEntry, type AuditLog } from './audit';
import { runInternalCommand, type InternalCommandContext } from './internal';
import { fitOutput } from './output';
import { evaluatePolicy, type CommandPolicyOptions } from './policy';
import { CommandRunner, type RunResult, type RunnerOptions } from './runner';

export interface CommandServiceOptions {
  policy: CommandPolicyOptions;
  runner: Partial<RunnerOptions>;
  /** How long an `ask` request waits for the person at the machine before it counts as denied. */
  approvalTimeoutMs: number;
  /**
   * Headless: the web dashboard's sessions. While a dashboard serves, `ask` requests wait for an answer there;
   * without one they are refused at once. Ignored on the desktop, where the shell always shows requests.
   */
  approvers?: ApproverPresence;
  /** UTF-8 bytes available for stdout + stderr in one answer (the frame budget minus the frame's own overhead). */
  outputBudgetBytes: number;
  /**
   * Hands the answer to the spool. May throw (e.g. the disk is full): the answer is offered again every
   * `answerRetryMs` up to `answerAttempts` times (not while stopping), then the error is reported.
   */
  sendResult: (commandUuid: string, stdout: string, stderr: string) => void | Promise<void>;
  /** Default 500 ms. */
  answerRetryMs?: number;
  /** Default 60 (half a minute with the default interval). */
  answerAttempts?: number;
  internal: InternalCommandContext;
  audit: AuditLog | null;
  /** Finished records kept in memory for the UI. */
  historyLimit?: number;
  /** Total output bytes kept in memory across the history; older records fall back to what was sent. */
  historyOutputBytes?: number;
  onError?: (message: string, err: unknown) => void;
  /**
   * Secrets (the group key) masked by value wherever an argv or an output is recorded: the audit log, the command
   * history the UI shows, and from there the agent log. Read at each command, so a changed key is covered too.
   */
  secrets?: () => readonly string[];
}

export interface CommandCounters {
  received: number;
  external: number;
  internal: number;
  unknown: number;
  denied: number;
  /** Failed to start, exited non-zero, killed, timed out, or an internal command that failed. */
  errors: number;
  answered: number;
  running: number;
  queued: number;
  awaitingApproval: number;
}

export interface CommandServiceEvents {
  command: [CommandRecordView];
  approvals: [ApprovalRequestView[]];
}

/** Flattens frame data items (a string or an array of strings, concatenated like the original). */
function itemText(item: string | string[] | undefined): string {
  if (item === undefined) return '';
  return Array.isArray(item) ? item.join('') : item;
}

/**
 * The argv as it may be kept (audit log, command history in the UI): a `set-config` argument is a whole config and
 * may carry the group key, which is never written down — its value becomes the mask; an argument that does not parse
 * as a mapping is not kept at all.
 */
export function recordableArgv(type: string, argv: string[]): string[] {
  const carriesConfig = argv[0] === 'set-config' || argv[0] === 'validate-config';
  if (type !== 'internal' || !carriesConfig || argv.length < 2) return argv;
  return [argv[0] as string, ...argv.slice(1).map(redactConfigText)];
}

function redactConfigText(text: string): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || !isMap(doc.contents)) {
    return `(${Buffer.byteLength(text)} bytes that are not a config mapping; not recorded)`;
  }
  if (!doc.has('group_key')) return text;
  doc.set('group_key', GROUP_KEY_MASK);
  return doc.toString().trimEnd();
}

/** Every occurrence of each secret (4 characters or more, so short ones do not garble text) replaced by the mask. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join(GROUP_KEY_MASK);
  return out;
}

/** `maskSecrets` over every string inside `value` (arrays and plain objects are copied; nothing else is touched). */
export function maskSecretsDeep<T>(value: T, secrets: readonly string[]): T {
  const used = secrets.filter((s) => s.length >= 4);
  if (used.length === 0) return value;
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return used.some((s) => node.includes(s)) ? maskSecrets(node, used) : node;
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === 'object' && Object.getPrototypeOf(node) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(node)) out[key] = walk(inner);
      return out;
    }
    return node;
  };
  return walk(value) as T;
}

/** `[type, argv0, argv1…]` → type and argv; array arguments are flattened, argv0 arrays concatenated (§6.2). */
export function parseCommandData(data: FrameData): { type: string; argv: string[] } {
  const type = itemText(data[0]);
  const argv: string[] = [];
  if (data.length > 1) argv.push(itemText(data[1]));
  for (const item of data.slice(2)) {
    if (Array.isArray(item)) argv.push(...item);
    else argv.push(item);
  }
  return { type, argv };
}

/** Two answer strings fitted into `budgetBytes` together (untouched when they fit). */
function fitText(stdout: string, stderr: string, budgetBytes: number) {
  const stdoutBytes = Buffer.byteLength(stdout);
  const stderrBytes = Buffer.byteLength(stderr);
  if (stdoutBytes + stderrBytes <= budgetBytes)
    return { stdout, stderr, stdoutBytesCut: 0, stderrBytesCut: 0 };
  return fitOutput(
    {
      stdout: Buffer.from(stdout),
      stderr: Buffer.from(stderr),
      stdoutTotalBytes: stdoutBytes,
      stderrTotalBytes: stderrBytes,
      exitCode: 0,
      signal: null,
      timedOut: false,
      spawnError: null,
      queueFull: false,
      cancelled: false,
      durationMs: 0,
      timeoutMs: 0,
    },
    budgetBytes,
  );
}

export class CommandService extends EventEmitter<CommandServiceEvents> {
  private options: CommandServiceOptions;
  private readonly runner: CommandRunner;
  readonly approvals: ApprovalBroker;
  private readonly history: CommandRecordView[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly counts = {
    received: 0,
    external: 0,
    internal: 0,
    unknown: 0,
    denied: 0,
    errors: 0,
    answered: 0,
  };
  private stopping = false;

  constructor(options: CommandServiceOptions) {
    super();
    this.options = options;
    this.runner = new CommandRunner(options.runner);
    this.approvals = new ApprovalBroker(
      options.approvalTimeoutMs,
      options.policy.host === 'headless' ? options.approvers : undefined,
    );
    this.approvals.on('changed', (list) => this.emit('approvals', list));
  }

  /** Live changes (config save): policy, limits and budget apply to the next command. */
  configure(patch: Partial<Omit<CommandServiceOptions, 'sendResult' | 'internal' | 'audit'>>): void {
    this.options = { ...this.options, ...patch };
    if (patch.runner) this.runner.configure(patch.runner);
    if (patch.approvalTimeoutMs !== undefined) this.approvals.setTimeoutMs(patch.approvalTimeoutMs);
  }

  counters(): CommandCounters {
    return {
      ...this.counts,
      running: this.runner.runningCount,
      queued: this.runner.queuedCount,
      awaitingApproval: this.approvals.pending().length,
    };
  }

  /** Most recent last. */
  records(): CommandRecordView[] {
    return this.history.map((r) => ({ ...r }));
  }

  decideApproval(id: string, approve: boolean): boolean {
    return this.approvals.decide(id, approve);
  }

  /** Handles one `C` frame from the server. Resolves after its answer was handed over. */
  handle(commandUuid: string, data: FrameData): Promise<void> {
    const p = this.process(commandUuid, data).catch((err) => this.report('command handling failed', err));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** Rejects pending approvals, kills running commands (their answers still go out) and waits for all answers. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.approvals.rejectAll();
    await this.runner.stop();
    await Promise.all([...this.inFlight]);
  }

  /** Accepts commands again after `stop()` (core restart). */
  restart(): void {
    this.stopping = false;
    this.runner.restart();
  }

  private mask(text: string): string {
    const secrets = this.options.secrets?.() ?? [];
    return secrets.length === 0 ? text : maskSecrets(text, secrets);
  }

  private report(message: string, err: unknown): void {
    this.options.onError?.(message, err);
  }

  private remember(record: CommandRecordView): void {
    if (!this.history.includes(record)) {
      this.history.push(record);
      const limit = this.options.historyLimit ?? 200;
      while (this.history.length > limit) this.history.shift();
    }
    // Bound memory: drop the locally kept output of the oldest records first.
    let budget = this.options.historyOutputBytes ?? 8 * 1024 * 1024;
    for (let i = this.history.length - 1; i >= 0; i--) {
      const r = this.history[i] as CommandRecordView;
      const size = r.stdout.length + r.stderr.length;
      if (size <= budget) budget -= size;
      else {
        r.stdout = r.stdout.length > 0 ? '[output no longer kept]' : '';
        r.stderr = '';
        budget = 0;
      }
    }
    this.emit('command', { ...record });
  }

  private async process(uuid: string, data: FrameData): Promise<void> {
    const receivedAt = Date.now();
    const { type, argv } = parseCommandData(data);
    this.counts.received++;
    const record: CommandRecordView = {
      uuid,
      type,
      argv: recordableArgv(type, argv).map((a) => this.mask(a)),
      receivedAt,
      decision: 'unknown',
      state: 'queued',
      exitCode: null,
      signal: null,
      timedOut: false,
      durationMs: null,
      stdout: '',
      stderr: '',
      stdoutBytesCut: 0,
      stderrBytesCut: 0,
    };

    // argv is checked once, here, before the policy and long before any spawn.
    const problem = argvProblem(argv);
    const verdict = this.stopping
      ? ({
          decision: 'deny',
          reason: 'refused: the agent is stopping; send the command again later',
        } as const)
      : problem !== null
        ? ({ decision: 'deny', reason: `refused: ${problem}` } as const)
        : evaluatePolicy(
            { ...this.options.policy, dashboardApprovals: this.options.approvers?.surfaceOpen ?? false },
            type,
            argv,
          );

    if (verdict.decision === 'unknown' || verdict.decision === 'deny') {
      if (verdict.decision === 'unknown') this.counts.unknown++;
      else this.counts.denied++;
      if (type === 'internal') this.counts.internal++;
      else if (type === 'external') this.counts.external++;
      record.decision = verdict.decision === 'unknown' ? 'unknown' : 'denied';
      await this.answer(record, '', verdict.reason, { note: verdict.reason });
      return;
    }

    let decision: CommandDecision = 'allowed';
    if (verdict.decision === 'ask') {
      record.state = 'awaiting-approval';
      this.remember(record);
      const outcome = await this.approvals.request({ uuid, type, argv });
      if (outcome !== 'approved') {
        this.counts.denied++;
        this.counts.external++;
        // A person said no ('rejected'); the agent refused by itself ('denied': it stopped); or time ran out.
        record.decision =
          outcome === 'rejected' ? 'rejected' : outcome === 'cancelled' ? 'denied' : 'timed-out';
        const why = this.refusalReason(outcome);
        const reason =
          outcome === 'cancelled'
            ? why
            : `${why} The machine's owner can allow commands without asking via commands.policy ` +
              `(allowlist with commands.allowlist, or allow) in the agent config.`;
        await this.answer(record, '', reason, { note: reason });
        return;
      }
      decision = 'approved';
    }
    record.decision = decision;

    if (type === 'internal') {
      this.counts.internal++;
      record.state = 'running';
      this.remember(record);
      const started = Date.now();
      const outcome = await runInternalCommand(argv[0] ?? '', argv.slice(1), this.options.internal);
      record.durationMs = Date.now() - started;
      if (outcome.failed) this.counts.errors++;
      // Internal output is small, but it still has to fit the frame.
      const fitted = fitOutput(
        {
          stdout: Buffer.from(outcome.stdout),
          stderr: Buffer.from(outcome.stderr),
          stdoutTotalBytes: Buffer.byteLength(outcome.stdout),
          stderrTotalBytes: Buffer.byteLength(outcome.stderr),
          exitCode: 0,
          signal: null,
          timedOut: false,
          spawnError: null,
          queueFull: false,
          cancelled: false,
          durationMs: record.durationMs,
          timeoutMs: 0,
        },
        this.options.outputBudgetBytes,
      );
      record.stdoutBytesCut = fitted.stdoutBytesCut;
      record.stderrBytesCut = fitted.stderrBytesCut;
      await this.answer(record, fitted.stdout, fitted.stderr, {
        localStdout: outcome.stdout,
        localStderr: outcome.stderr,
        note: outcome.failed ? outcome.stderr : undefined,
      });
      outcome.after?.();
      return;
    }

    this.counts.external++;
    record.state = 'queued';
    this.remember(record);
    const result = await this.runner.run({
      argv,
      onStart: () => {
        record.state = 'running';
        this.remember(record);
      },
    });
    this.applyRunResult(record, result);
    const fitted = fitOutput(result, this.options.outputBudgetBytes);
    record.stdoutBytesCut = fitted.stdoutBytesCut;
    record.stderrBytesCut = fitted.stderrBytesCut;
    const failed =
      result.queueFull ||
      result.spawnError !== null ||
      result.timedOut ||
      result.cancelled ||
      result.signal !== null ||
      (result.exitCode ?? 0) !== 0;
    if (failed) this.counts.errors++;
    const localNote = fitted.stderr.slice(fitted.stderr.lastIndexOf('\n') + 1);
    const localStderr = result.stderr.toString('utf8');
    await this.answer(record, fitted.stdout, fitted.stderr, {
      localStdout: result.stdout.toString('utf8'),
      localStderr: failed
        ? `${localStderr}${localStderr === '' || localStderr.endsWith('\n') ? '' : '\n'}${localNote}`
        : localStderr,
      stdoutBytes: result.stdoutTotalBytes,
      stderrBytes: result.stderrTotalBytes,
      note: failed ? localNote : undefined,
    });
  }

  /** Why an `ask` request did not run, in the words of where it was asked (desktop app or web dashboard). */
  private refusalReason(outcome: Exclude<ApprovalOutcome, 'approved'>): string {
    const seconds = Math.round(this.options.approvalTimeoutMs / 1000);
    const dashboard = this.options.policy.host === 'headless';
    switch (outcome) {
      case 'rejected':
        return dashboard
          ? 'refused: the command was denied in the dashboard.'
          : 'refused: the person at this machine rejected the command.';
      case 'cancelled':
        return 'refused: the agent stopped before anyone answered; send the command again later.';
      case 'unattended':
        return `refused: no dashboard session connected within ${seconds}s to approve the command.`;
      case 'timed-out':
        return dashboard
          ? `refused: nobody approved the command in the dashboard within ${seconds}s.`
          : `refused: nobody at this machine approved the command within ${seconds}s.`;
    }
  }

  private applyRunResult(record: CommandRecordView, result: RunResult): void {
    record.exitCode = result.exitCode;
    record.signal = result.signal;
    record.timedOut = result.timedOut;
    record.durationMs = result.durationMs;
  }

  /** True once the spool took the answer; retried while it refuses (a transient disk problem loses no answer). */
  private async queueAnswer(uuid: string, stdout: string, stderr: string): Promise<boolean> {
    const attempts = Math.max(1, this.options.answerAttempts ?? 60);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.sendResult(uuid, stdout, stderr);
        return true;
      } catch (err) {
        if (attempt >= attempts || this.stopping) {
          this.report(`could not queue the answer to command ${uuid} (${attempt} attempts)`, err);
          return false;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.answerRetryMs ?? 500));
    }
  }

  private async answer(
    record: CommandRecordView,
    stdout: string,
    stderr: string,
    extra: {
      localStdout?: string;
      localStderr?: string;
      stdoutBytes?: number;
      stderrBytes?: number;
      note?: string;
    },
  ): Promise<void> {
    // Whatever produced it, the answer fits the frame: what exceeds the budget is cut with a mark.
    const fitted = fitText(stdout, stderr, this.options.outputBudgetBytes);
    if (await this.queueAnswer(record.uuid, fitted.stdout, fitted.stderr)) this.counts.answered++;
    record.state = 'done';
    record.stdoutBytesCut += fitted.stdoutBytesCut;
    record.stderrBytesCut += fitted.stderrBytesCut;
    // The UI gets the full local output (up to the runner's keep limit), not just what fitted the frame; secrets
    // are masked in everything recorded.
    record.stdout = this.mask(extra.localStdout ?? stdout);
    record.stderr = this.mask(extra.localStderr ?? stderr);
    const entry: AuditEntry = {
      time: record.receivedAt,
      uuid: record.uuid,
      type: record.type,
      argv: record.argv,
      decision: record.decision,
      exitCode: record.exitCode,
      signal: record.signal,
      timedOut: record.timedOut,
      durationMs: record.durationMs,
      stdoutBytes: extra.stdoutBytes ?? Buffer.byteLength(extra.localStdout ?? stdout),
      stderrBytes: extra.stderrBytes ?? Buffer.byteLength(extra.localStderr ?? stderr),
      stdoutBytesCut: record.stdoutBytesCut,
      stderrBytesCut: record.stderrBytesCut,
      ...(extra.note ? { note: this.mask(extra.note) } : {}),
    };
    try {
      this.options.audit?.append(entry);
    } catch (err) {
      this.report('could not write the command audit log', err);
    }
    this.remember(record);
  }
}
