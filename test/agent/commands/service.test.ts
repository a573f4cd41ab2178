import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApproverPresence } from '../../../src-main/agent/commands/approvals';
import { AuditLog } from '../../../src-main/agent/commands/audit';
import { type InternalCommandContext } from '../../../src-main/agent/commands/internal';
import { type CommandPolicyOptions } from '../../../src-main/agent/commands/policy';
import { CommandService, parseCommandData, recordableArgv } from '../../../src-main/agent/commands/service';
import { type ApprovalRequestView } from '../../../src-shared/view-models';

interface Answer {
  uuid: string;
  stdout: string;
  stderr: string;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function fakeInternal(
  overrides: Partial<InternalCommandContext> = {},
): InternalCommandContext & { restarts: number } {
  const ctx = {
    restarts: 0,
    status: () => ({ commands_received: 1, state: 'connected' }),
    version: () => ({ agent: '0.3.0', node: process.versions.node }),
    getConfig: () => ({ path: '/etc/minion/config.yml', yaml: 'group_key: "********"\n' }),
    validateConfig: async (text: string | null) =>
      text === 'bad'
        ? { ok: false as const, error: 'streamserver_port: expected a number' }
        : { ok: true as const, yaml: 'ok: 1\n' },
    setConfig: async (text: string) => {
      if (text.includes('bad')) throw new Error('telemetry_interval: expected a positive integer');
      return { applied: ['telemetry_interval'], restartRequired: [] };
    },
    restart: () => {
      ctx.restarts++;
    },
    upgrade: async () => ({ stdout: 'no update available: 0.3.0 is the latest version.', stderr: '' }),
    ...overrides,
  };
  return ctx;
}

function setup(
  policy: Partial<CommandPolicyOptions>,
  extra: { approvalTimeoutMs?: number; budget?: number; approvers?: ApproverPresence } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'cmdsvc-'));
  const answers: Answer[] = [];
  const audit = new AuditLog({ path: join(dir, 'commands-audit.jsonl'), maxBytes: 1_000_000 });
  const internal = fakeInternal();
  const service = new CommandService({
    policy: { mode: 'deny', allowlist: [], internal: {}, host: 'headless', ...policy },
    runner: { killGraceMs: 200, pipeDrainMs: 200, timeoutMs: 5_000 },
    approvalTimeoutMs: extra.approvalTimeoutMs ?? 5_000,
    approvers: extra.approvers,
    outputBudgetBytes: extra.budget ?? 60_000,
    sendResult: (uuid, stdout, stderr) => {
      answers.push({ uuid, stdout, stderr });
    },
    internal,
    audit,
  });
  cleanups.push(async () => {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { service, answers, audit, internal };
}

const U1 = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const U2 = '3f2504e0-4f89-41d3-9a0c-0305e82c3302';

function nextApprovals(service: CommandService): Promise<ApprovalRequestView[]> {
  return new Promise((resolve) => {
    const listener = (list: ApprovalRequestView[]): void => {
      if (list.length > 0) {
        service.off('approvals', listener);
        resolve(list);
      }
    };
    service.on('approvals', listener);
  });
}

describe('parseCommandData', () => {
  it('flattens array arguments and concatenates an array argv0 like the original', () => {
    expect(parseCommandData(['external', ['l', 's'], '-la', ['/tmp', '/var']])).toEqual({
      type: 'external',
      argv: ['ls', '-la', '/tmp', '/var'],
    });
  });
});

describe('CommandService', () => {
  it('allow: runs the command and answers once with the C uuid verbatim; audits it', async () => {
    const { service, answers, audit } = setup({ mode: 'allow' });
    await service.handle(U1, ['external', 'echo', 'hello world']);
    expect(answers).toEqual([{ uuid: U1, stdout: 'hello world\n', stderr: '' }]);
    const [entry] = audit.read(10);
    expect(entry).toMatchObject({
      uuid: U1,
      decision: 'allowed',
      exitCode: 0,
      argv: ['echo', 'hello world'],
      stdoutBytes: 12,
    });
    expect(service.records()[0]).toMatchObject({
      uuid: U1,
      state: 'done',
      decision: 'allowed',
      stdout: 'hello world\n',
    });
    expect(service.counters()).toMatchObject({ received: 1, external: 1, answered: 1, errors: 0 });
  });

  it('notes a non-zero exit as the last stderr line', async () => {
    const { service, answers } = setup({ mode: 'allow' });
    await service.handle(U1, ['external', 'echo bad >&2; exit 2']);
    expect(answers[0]?.stderr).toBe('bad\n[exit status 2]');
    expect(service.counters().errors).toBe(1);
  });

  it('caps the answer to the budget and keeps the full output locally', async () => {
    const { service, answers } = setup({ mode: 'allow' }, { budget: 5_000 });
    await service.handle(U1, ['external', 'head -c 100000 /dev/zero | tr "\\0" a']);
    const answer = answers[0] as Answer;
    expect(Buffer.byteLength(answer.stdout) + Buffer.byteLength(answer.stderr)).toBeLessThanOrEqual(5_000);
    expect(answer.stdout).toMatch(/…\[truncated \d+ bytes\]$/);
    const record = service.records()[0];
    expect(record?.stdout.length).toBe(100_000);
    expect(record?.stdoutBytesCut).toBeGreaterThan(95_000);
  });

  it('deny: refuses with a stderr naming the config key, and audits the refusal', async () => {
    const { service, answers, audit } = setup({ mode: 'deny' });
    await service.handle(U1, ['external', 'touch', '/tmp/should-not-exist-minion']);
    expect(answers).toHaveLength(1);
    expect(answers[0]?.stdout).toBe('');
    expect(answers[0]?.stderr).toMatch(/commands\.policy/);
    expect(audit.read(1)[0]).toMatchObject({ decision: 'denied', exitCode: null });
  });

  it('allowlist: runs listed commands only', async () => {
    const { service, answers } = setup({ mode: 'allowlist', allowlist: ['echo'] });
    await service.handle(U1, ['external', 'echo', 'ok']);
    await service.handle(U2, ['external', 'id']);
    expect(answers[0]).toEqual({ uuid: U1, stdout: 'ok\n', stderr: '' });
    expect(answers[1]?.stderr).toMatch(/not in commands\.allowlist/);
  });

  it('ask approved: waits for the person, then runs', async () => {
    const { service, answers, audit } = setup({ mode: 'ask', host: 'desktop' });
    const pending = nextApprovals(service);
    const done = service.handle(U1, ['external', 'echo', 'approved']);
    const [request] = await pending;
    expect(request).toMatchObject({ uuid: U1, argv: ['echo', 'approved'], commandLine: 'echo approved' });
    expect(service.records()[0]?.state).toBe('awaiting-approval');
    expect(answers).toHaveLength(0);
    expect(service.decideApproval(request?.id ?? '', true)).toBe(true);
    expect(service.decideApproval(request?.id ?? '', true)).toBe(false);
    await done;
    expect(answers).toEqual([{ uuid: U1, stdout: 'approved\n', stderr: '' }]);
    expect(audit.read(1)[0]?.decision).toBe('approved');
  });

  it('ask rejected: answers with a refusal and does not run', async () => {
    const { service, answers, audit } = setup({ mode: 'ask', host: 'desktop' });
    const pending = nextApprovals(service);
    const done = service.handle(U1, ['external', 'echo', 'nope']);
    const [request] = await pending;
    service.decideApproval(request?.id ?? '', false);
    await done;
    expect(answers[0]?.stdout).toBe('');
    expect(answers[0]?.stderr).toMatch(/rejected/);
    expect(audit.read(1)[0]?.decision).toBe('rejected');
  });

  it('ask timed out: denies after the timeout', async () => {
    const { service, answers, audit } = setup({ mode: 'ask', host: 'desktop' }, { approvalTimeoutMs: 150 });
    await service.handle(U1, ['external', 'echo', 'late']);
    expect(answers[0]?.stderr).toMatch(/nobody .* approved/);
    expect(audit.read(1)[0]?.decision).toBe('timed-out');
    expect(service.approvals.pending()).toHaveLength(0);
  });

  it('ask headless without a dashboard: denied immediately', async () => {
    const { service, answers } = setup(
      { mode: 'ask', host: 'headless' },
      { approvers: new ApproverPresence() },
    );
    await service.handle(U1, ['external', 'echo', 'x']);
    expect(answers[0]?.stderr).toMatch(/headless without its dashboard/);
    expect(service.approvals.pending()).toHaveLength(0);
  });

  it('ask headless with a dashboard session: waits for it, approved there, runs', async () => {
    const approvers = new ApproverPresence();
    const surface = approvers.openSurface();
    const leave = surface.sessionOpened();
    const { service, answers, audit } = setup({ mode: 'ask', host: 'headless' }, { approvers });
    const pending = nextApprovals(service);
    const done = service.handle(U1, ['external', 'echo', 'from the dashboard']);
    const [request] = await pending;
    expect(service.decideApproval(request?.id ?? '', true)).toBe(true);
    await done;
    expect(answers).toEqual([{ uuid: U1, stdout: 'from the dashboard\n', stderr: '' }]);
    expect(audit.read(1)[0]?.decision).toBe('approved');
    leave();
    surface.close();
  });

  it('ask headless, dashboard serving but no session ever connected: refused after the timeout, saying so', async () => {
    const approvers = new ApproverPresence();
    approvers.openSurface();
    const { service, answers, audit } = setup(
      { mode: 'ask', host: 'headless' },
      { approvers, approvalTimeoutMs: 150 },
    );
    const pending = nextApprovals(service);
    const done = service.handle(U1, ['external', 'echo', 'nobody there']);
    expect(await pending).toHaveLength(1);
    await done;
    expect(answers[0]?.stdout).toBe('');
    expect(answers[0]?.stderr).toMatch(/^refused: no dashboard session connected within 0s/);
    const entry = audit.read(1)[0];
    expect(entry?.decision).toBe('timed-out');
    expect(entry?.note).toMatch(/no dashboard session connected/);
  });

  it('ask headless: a session that connected while it waited makes it "nobody approved", not "no session"', async () => {
    const approvers = new ApproverPresence();
    const surface = approvers.openSurface();
    const { service, answers } = setup(
      { mode: 'ask', host: 'headless' },
      { approvers, approvalTimeoutMs: 300 },
    );
    const pending = nextApprovals(service);
    const done = service.handle(U1, ['external', 'echo', 'seen']);
    await pending;
    // A page opened and closed again before anyone answered.
    surface.sessionOpened()();
    await done;
    expect(answers[0]?.stderr).toMatch(/^refused: nobody approved the command in the dashboard/);
  });

  it('ask headless: a closed dashboard refuses the next request at once again', async () => {
    const approvers = new ApproverPresence();
    const surface = approvers.openSurface();
    const { service, answers } = setup({ mode: 'ask', host: 'headless' }, { approvers });
    surface.close();
    surface.close();
    await service.handle(U1, ['external', 'echo', 'x']);
    expect(answers[0]?.stderr).toMatch(/headless without its dashboard/);
    expect(approvers.sessionCount).toBe(0);
  });

  it("ask: a request still pending when the agent stops is refused by the agent, not as a person's no", async () => {
    const { service, answers, audit } = setup({ mode: 'ask', host: 'desktop' });
    const pending = nextApprovals(service);
    const done = service.handle(U1, ['external', 'echo', 'never answered']);
    await pending;
    await service.stop();
    await done;
    expect(answers[0]?.stderr).toBe(
      'refused: the agent stopped before anyone answered; send the command again later.',
    );
    expect(audit.read(1)[0]?.decision).toBe('denied');
  });

  it('ask on the desktop ignores the dashboard presence (the shell always shows requests)', async () => {
    const approvers = new ApproverPresence();
    approvers.openSurface();
    const { service, answers } = setup(
      { mode: 'ask', host: 'desktop' },
      { approvers, approvalTimeoutMs: 150 },
    );
    await service.handle(U1, ['external', 'echo', 'late']);
    expect(answers[0]?.stderr).toMatch(/nobody at this machine approved/);
  });

  it('internal: status, version, get-config, validate-config answer from the context', async () => {
    const { service, answers } = setup({ mode: 'deny' });
    await service.handle(U1, ['internal', 'status']);
    await service.handle(U2, ['internal', 'version']);
    await service.handle(U1, ['internal', 'get-config']);
    await service.handle(U2, ['internal', 'validate-config', 'bad']);
    expect(JSON.parse(answers[0]?.stdout ?? '')).toEqual({ commands_received: 1, state: 'connected' });
    expect(JSON.parse(answers[1]?.stdout ?? '').agent).toBe('0.3.0');
    expect(JSON.parse(answers[2]?.stdout ?? '')).toEqual({
      path: '/etc/minion/config.yml',
      config: 'group_key: "********"\n',
    });
    expect(answers[3]).toEqual({ uuid: U2, stdout: '', stderr: 'streamserver_port: expected a number' });
  });

  it('internal: set-config is off by default, and when on it validates and reports errors', async () => {
    const off = setup({ mode: 'deny' });
    await off.service.handle(U1, ['internal', 'set-config', 'telemetry_interval: 5']);
    expect(off.answers[0]?.stderr).toMatch(/commands\.internal\.set-config/);

    const on = setup({ mode: 'deny', internal: { 'set-config': true } });
    await on.service.handle(U1, ['internal', 'set-config', 'telemetry_interval: 5']);
    await on.service.handle(U2, ['internal', 'set-config', 'bad: 1']);
    expect(JSON.parse(on.answers[0]?.stdout ?? '')).toEqual({
      applied: ['telemetry_interval'],
      restartRequired: [],
    });
    expect(on.answers[1]?.stderr).toBe('set-config failed: telemetry_interval: expected a positive integer');
  });

  it('internal: a set-config carrying the group key is applied with it but never audited or shown with it', async () => {
    const seen: string[] = [];
    const { service, audit, internal } = setup({ mode: 'deny', internal: { 'set-config': true } });
    internal.setConfig = async (text) => {
      seen.push(text);
      return { applied: ['group_key'], restartRequired: [] };
    };
    const shown: string[][] = [];
    service.on('command', (r) => shown.push(r.argv));
    await service.handle(U1, ['internal', 'set-config', 'group_key: s3cret-key-123\ntelemetry_interval: 5']);
    await service.handle(U2, ['internal', 'set-config', '{"group_key": "s3cret-key-123"']);
    expect(seen[0]).toContain('s3cret-key-123');
    const kept = JSON.stringify([audit.read(10), shown]);
    expect(kept).not.toContain('s3cret-key-123');
    expect(audit.read(10).map((e) => e.argv[1])).toEqual([
      expect.stringMatching(/^group_key: .+\ntelemetry_interval: 5$/),
      expect.stringMatching(/not a config mapping; not recorded/),
    ]);
    expect(recordableArgv('external', ['echo', 'group_key: x'])).toEqual(['echo', 'group_key: x']);
  });

  it('internal: restart answers first, then restarts; unknown names are answered', async () => {
    const { service, answers, internal } = setup({ mode: 'deny' });
    await service.handle(U1, ['internal', 'restart']);
    expect(answers[0]?.stdout).toMatch(/restarting/);
    expect(internal.restarts).toBe(1);
    await service.handle(U2, ['internal', 'frobnicate']);
    expect(answers[1]).toEqual({ uuid: U2, stdout: '', stderr: 'unknown internal command: frobnicate' });
  });

  it('stop(): running commands are killed and still answered', async () => {
    const { service, answers } = setup({ mode: 'allow' });
    const done = service.handle(U1, ['external', 'sleep', '30']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await service.stop();
    await done;
    expect(answers).toHaveLength(1);
    expect(answers[0]?.stderr).toMatch(/cancelled: the agent is stopping/);
  });

  function refusingService(refusals: number) {
    const dir = mkdtempSync(join(tmpdir(), 'cmdsvc-'));
    const errors: string[] = [];
    const queued: string[] = [];
    let attempts = 0;
    const audit = new AuditLog({ path: join(dir, 'a.jsonl'), maxBytes: 100_000 });
    const service = new CommandService({
      policy: { mode: 'allow', allowlist: [], internal: {}, host: 'headless' },
      runner: {},
      approvalTimeoutMs: 1000,
      outputBudgetBytes: 1000,
      sendResult: (uuid) => {
        attempts++;
        if (attempts <= refusals) throw new Error('spool write failed: ENOSPC');
        queued.push(uuid);
      },
      answerRetryMs: 5,
      answerAttempts: 3,
      internal: fakeInternal(),
      audit,
      onError: (m) => errors.push(m),
    });
    cleanups.push(async () => {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    return { service, errors, queued, audit, attempts: () => attempts };
  }

  it('offers a refused answer to the spool again, so a transient disk problem loses no answer', async () => {
    const { service, errors, queued, attempts } = refusingService(2);
    await service.handle(U1, ['external', 'true']);
    expect(queued).toEqual([U1]);
    expect(attempts()).toBe(3);
    expect(errors).toEqual([]);
    expect(service.counters().answered).toBe(1);
  });

  it('a sendResult that keeps failing is reported, not thrown, and the command is still audited', async () => {
    const { service, errors, queued, audit, attempts } = refusingService(Infinity);
    await service.handle(U1, ['external', 'true']);
    expect(queued).toEqual([]);
    expect(attempts()).toBe(3);
    expect(errors[0]).toMatch(/could not queue the answer.*3 attempts/);
    expect(service.counters().answered).toBe(0);
    expect(audit.read(1)).toHaveLength(1);
  });
});

describe('CommandService at the trust boundary', () => {
  function boundaryService(policy: Partial<CommandPolicyOptions>, secrets: string[] = [], budget = 8_000) {
    const dir = mkdtempSync(join(tmpdir(), 'cmdsvc-boundary-'));
    const answers: Answer[] = [];
    const audit = new AuditLog({ path: join(dir, 'commands-audit.jsonl'), maxBytes: 10_000_000 });
    const service = new CommandService({
      policy: { mode: 'deny', allowlist: [], internal: {}, host: 'headless', ...policy },
      runner: { killGraceMs: 200, pipeDrainMs: 200, timeoutMs: 5_000 },
      approvalTimeoutMs: 5_000,
      outputBudgetBytes: budget,
      sendResult: (uuid, stdout, stderr) => {
        answers.push({ uuid, stdout, stderr });
      },
      internal: fakeInternal(),
      audit,
      secrets: () => secrets,
    });
    cleanups.push(async () => {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    return { service, answers, audit };
  }

  it('answers and audits an allowed command with a NUL byte in an argument (refused before the policy and spawn)', async () => {
    const { service, answers, audit } = boundaryService({ mode: 'allowlist', allowlist: ['echo *'] });
    await service.handle(U1, ['external', 'echo', 'a\0b']);
    expect(answers).toHaveLength(1);
    expect(answers[0]?.stderr).toMatch(/^refused: argument 1 contains a NUL byte/);
    expect(audit.read(5)).toMatchObject([{ uuid: U1, decision: 'denied' }]);
    expect(service.counters()).toMatchObject({ received: 1, denied: 1, answered: 1 });
  });

  it('bounds what a refusal repeats, so the answer fits the frame budget whatever the argv', async () => {
    const { service, answers } = boundaryService({ mode: 'allowlist', allowlist: ['uptime'] });
    const many = Array.from({ length: 3_000 }, (_, i) => `argument-${i}`);
    await service.handle(U1, ['external', 'echo', ...many]);
    await service.handle(U2, ['external', 'echo', ...Array.from({ length: 5_000 }, () => 'x')]);
    await service.handle(U1, ['unknown-type-'.repeat(2_000)]);
    expect(answers).toHaveLength(3);
    for (const answer of answers) {
      expect(Buffer.byteLength(answer.stdout) + Buffer.byteLength(answer.stderr)).toBeLessThanOrEqual(8_000);
    }
    expect(answers[0]?.stderr).toMatch(
      /echo argument-0 argument-1 .*…\[\d+ more argument\(s\), \d+ bytes, not shown\]/,
    );
    expect(answers[0]?.stderr).not.toContain('argument-2999');
    expect(answers[1]?.stderr).toMatch(/^refused: too many arguments \(5001; at most 4096/);
  });

  it('fits every answer into a small budget (long group ids leave little room), refusals included', async () => {
    const { service, answers } = boundaryService({ mode: 'allowlist', allowlist: ['uptime'] }, [], 300);
    await service.handle(U1, ['external', 'echo', ...Array.from({ length: 100 }, (_, i) => `argument-${i}`)]);
    expect(answers).toHaveLength(1);
    const size = Buffer.byteLength(answers[0]!.stdout) + Buffer.byteLength(answers[0]!.stderr);
    expect(size).toBeLessThanOrEqual(300);
    expect(answers[0]?.stderr).toMatch(/truncated \d+ bytes/);
  });

  it('masks secrets by value in what it records (audit, history, local output), not in the answer itself', async () => {
    const secret = 'group-key-abcdef123';
    const { service, answers, audit } = boundaryService(
      { mode: 'allowlist', allowlist: ['echo *'], internal: { 'validate-config': true } },
      [secret],
    );
    const records: string[] = [];
    service.on('command', (r) => records.push(JSON.stringify(r)));
    await service.handle(U1, ['external', 'echo', secret]);
    await service.handle(U2, ['external', 'cat', `/tmp/${secret}`]);
    await service.handle(U1, ['internal', 'validate-config', `group_key: other-new-key-999\n`]);
    expect(answers[0]?.stdout).toBe(`${secret}\n`);
    const recorded = JSON.stringify(audit.read(10)) + JSON.stringify(service.records()) + records.join('');
    expect(recorded).not.toContain(secret);
    // A key that is not (yet) ours, inside a config given to validate-config, is masked by its place.
    expect(recorded).not.toContain('other-new-key-999');
    expect(service.records()[0]?.stdout).toBe('••••••\n');
  });
});
