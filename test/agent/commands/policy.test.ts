import { describe, expect, it } from 'vitest';
import {
  type CommandPolicyOptions,
  evaluatePolicy,
  formatCommandLine,
  matchesAllowlistEntry,
} from '../../../src-main/agent/commands/policy';

const base: CommandPolicyOptions = { mode: 'deny', allowlist: [], internal: {}, host: 'headless' };

describe('evaluatePolicy', () => {
  it('deny refuses external commands and says which key to set', () => {
    const v = evaluatePolicy(base, 'external', ['uptime']);
    expect(v.decision).toBe('deny');
    expect(v.decision === 'deny' && v.reason).toMatch(/commands\.policy/);
  });

  it('allow runs anything', () => {
    expect(evaluatePolicy({ ...base, mode: 'allow' }, 'external', ['rm', '-rf', '/tmp/x']).decision).toBe(
      'allow',
    );
  });

  it('allowlist allows listed commands and refuses others naming commands.allowlist', () => {
    const opts = {
      ...base,
      mode: 'allowlist' as const,
      allowlist: ['uptime', 'systemctl status *', 'df -h'],
    };
    expect(evaluatePolicy(opts, 'external', ['uptime']).decision).toBe('allow');
    expect(evaluatePolicy(opts, 'external', ['systemctl', 'status', 'nginx']).decision).toBe('allow');
    expect(evaluatePolicy(opts, 'external', ['df -h']).decision).toBe('allow');
    const refused = evaluatePolicy(opts, 'external', ['systemctl', 'stop', 'nginx']);
    expect(refused.decision).toBe('deny');
    expect(refused.decision === 'deny' && refused.reason).toMatch(/commands\.allowlist/);
  });

  it('ask asks on the desktop and denies headless with an explanation', () => {
    expect(evaluatePolicy({ ...base, mode: 'ask', host: 'desktop' }, 'external', ['ls']).decision).toBe(
      'ask',
    );
    const headless = evaluatePolicy({ ...base, mode: 'ask' }, 'external', ['ls']);
    expect(headless.decision).toBe('deny');
    expect(headless.decision === 'deny' && headless.reason).toMatch(/headless/);
    expect(headless.decision === 'deny' && headless.reason).toMatch(/minion-agent run --ui/);
  });

  it('ask asks headless while a dashboard serves (it shows the request in its sessions)', () => {
    const verdict = evaluatePolicy({ ...base, mode: 'ask', dashboardApprovals: true }, 'external', ['ls']);
    expect(verdict.decision).toBe('ask');
  });

  it('internal commands are allowed individually; set-config and upgrade are off by default', () => {
    expect(evaluatePolicy(base, 'internal', ['status']).decision).toBe('allow');
    const setConfig = evaluatePolicy(base, 'internal', ['set-config', 'a: 1']);
    expect(setConfig.decision).toBe('deny');
    expect(setConfig.decision === 'deny' && setConfig.reason).toMatch(/commands\.internal\.set-config: true/);
    expect(evaluatePolicy(base, 'internal', ['upgrade']).decision).toBe('deny');
    expect(evaluatePolicy({ ...base, internal: { upgrade: true } }, 'internal', ['upgrade']).decision).toBe(
      'allow',
    );
    expect(evaluatePolicy({ ...base, internal: { status: false } }, 'internal', ['status']).decision).toBe(
      'deny',
    );
  });

  it('unknown internal commands and types are answered as unknown', () => {
    const v = evaluatePolicy({ ...base, mode: 'allow' }, 'internal', ['frobnicate']);
    expect(v).toEqual({ decision: 'unknown', reason: 'unknown internal command: frobnicate' });
    expect(evaluatePolicy({ ...base, mode: 'allow' }, 'weird', ['x']).decision).toBe('unknown');
    expect(evaluatePolicy({ ...base, mode: 'allow' }, 'external', []).decision).toBe('unknown');
  });
});

describe('matchesAllowlistEntry', () => {
  it('globs on argv[0] never match shell metacharacters', () => {
    expect(matchesAllowlistEntry('/usr/bin/*', ['/usr/bin/uptime'])).toBe(true);
    expect(matchesAllowlistEntry('/usr/bin/*', ['/usr/bin/uptime;rm'])).toBe(false);
    expect(matchesAllowlistEntry('ls*', ['ls $(reboot)'])).toBe(false);
    expect(matchesAllowlistEntry('uptime', ['uptime; reboot'])).toBe(false);
  });

  it('multi-word entries match arguments by position, ** matches the rest', () => {
    expect(matchesAllowlistEntry('journalctl -u *', ['journalctl', '-u', 'nginx'])).toBe(true);
    expect(matchesAllowlistEntry('journalctl -u *', ['journalctl', '-u', 'nginx', '-f'])).toBe(false);
    expect(matchesAllowlistEntry('journalctl **', ['journalctl'])).toBe(true);
    expect(matchesAllowlistEntry('journalctl **', ['journalctl', '-n', '5'])).toBe(true);
    // Arguments go through "$@": wildcards may match anything there.
    expect(matchesAllowlistEntry('echo *', ['echo', 'a;b $(c)'])).toBe(true);
  });

  it('shows argv[0] as the shell text it is, and quotes arguments that look like syntax', () => {
    expect(formatCommandLine(['ls; rm -rf ~', 'a b', '$HOME', 'plain'])).toBe(
      'ls; rm -rf ~ "a b" "$HOME" plain',
    );
  });
});

describe('allowlist matching, edge by edge (each case guards a way the allowlist could let more through)', () => {
  it('? matches exactly one character, * any run, and literal characters must still match', () => {
    expect(matchesAllowlistEntry('upt?me', ['uptime'])).toBe(true);
    expect(matchesAllowlistEntry('upt?me', ['uptme'])).toBe(false);
    expect(matchesAllowlistEntry('upt?me', ['uptiime'])).toBe(false);
    expect(matchesAllowlistEntry('echo ?', ['echo', 'a'])).toBe(true);
    expect(matchesAllowlistEntry('echo ?', ['echo', 'ab'])).toBe(false);
    expect(matchesAllowlistEntry('ls*', ['lx'])).toBe(false);
    expect(matchesAllowlistEntry('ls*', ['cat'])).toBe(false);
    expect(matchesAllowlistEntry('ls*', ['xls'])).toBe(false);
    expect(matchesAllowlistEntry('ls*', ['ls-files'])).toBe(true);
  });

  it('regex characters in a pattern are literal', () => {
    expect(matchesAllowlistEntry('python3.*', ['python3.11'])).toBe(true);
    expect(matchesAllowlistEntry('python3.*', ['python3x11'])).toBe(false);
    expect(matchesAllowlistEntry('echo a+*', ['echo', 'aa'])).toBe(false);
    expect(matchesAllowlistEntry('echo a+*', ['echo', 'a+b'])).toBe(true);
  });

  it('argv[0] with shell syntax never matches a glob, even one whose own text holds that syntax', () => {
    expect(matchesAllowlistEntry('ls;*', ['ls;reboot'])).toBe(false);
    expect(matchesAllowlistEntry('ls* -l', ['ls;reboot', '-l'])).toBe(false);
    expect(matchesAllowlistEntry('ls* -l', ['ls', '-l'])).toBe(true);
  });

  it('an empty or blank entry allows nothing', () => {
    expect(matchesAllowlistEntry('', ['uptime'])).toBe(false);
    expect(matchesAllowlistEntry('   ', ['uptime'])).toBe(false);
    expect(matchesAllowlistEntry('', [''])).toBe(false);
    const opts: CommandPolicyOptions = { ...base, mode: 'allowlist', allowlist: ['', '  '] };
    expect(evaluatePolicy(opts, 'external', ['uptime']).decision).toBe('deny');
  });

  it('surrounding and repeated blanks in an entry are ignored', () => {
    expect(matchesAllowlistEntry('  uptime  ', ['uptime'])).toBe(true);
    expect(matchesAllowlistEntry('journalctl   -u  *', ['journalctl', '-u', 'nginx'])).toBe(true);
  });

  it('a multi-word entry needs its command word to match', () => {
    expect(matchesAllowlistEntry('journalctl -u *', ['systemctl', '-u', 'nginx'])).toBe(false);
    expect(matchesAllowlistEntry('journalctl * **', ['journalctl'])).toBe(false);
    expect(matchesAllowlistEntry('journalctl * **', ['journalctl', '-f'])).toBe(true);
  });

  it('an entry equal to the whole command line matches it even when argv splits differently', () => {
    expect(matchesAllowlistEntry('echo a b', ['echo', 'a b'])).toBe(true);
    expect(matchesAllowlistEntry('echoa b', ['echo', 'a b'])).toBe(false);
  });
});

describe('evaluatePolicy answers', () => {
  it('a blank or missing command is unknown, whatever the mode', () => {
    const allow: CommandPolicyOptions = { ...base, mode: 'allow' };
    expect(evaluatePolicy(allow, 'external', ['  '])).toEqual({
      decision: 'unknown',
      reason: 'empty command: nothing to run',
    });
    expect(evaluatePolicy(allow, 'external', [])).toEqual({
      decision: 'unknown',
      reason: 'empty command: nothing to run',
    });
    expect(evaluatePolicy(allow, 'internal', [])).toEqual({
      decision: 'unknown',
      reason: 'unknown internal command: ',
    });
    expect(evaluatePolicy(allow, 'weird', ['x'])).toEqual({
      decision: 'unknown',
      reason: 'unknown command type: weird (expected external or internal)',
    });
  });

  it('every refusal names the command and the config key that would allow it', () => {
    const reason = (options: CommandPolicyOptions, type: string, argv: string[]): string => {
      const verdict = evaluatePolicy(options, type, argv);
      expect(verdict.decision).toBe('deny');
      return verdict.decision === 'deny' ? verdict.reason : '';
    };
    expect(reason(base, 'internal', ['upgrade'])).toBe(
      "refused by the agent's local policy: internal command 'upgrade' is disabled on this machine. " +
        "The machine's owner can enable it by setting commands.internal.upgrade: true in the agent config.",
    );
    expect(reason({ ...base, mode: 'allowlist', allowlist: ['uptime'] }, 'external', ['rm', 'a b'])).toBe(
      "refused by the agent's local policy: 'rm \"a b\"' is not in commands.allowlist. " +
        "The machine's owner can add it to commands.allowlist in the agent config (or set commands.policy: allow).",
    );
    expect(reason({ ...base, mode: 'ask', host: 'headless' }, 'external', ['ls'])).toBe(
      "refused by the agent's local policy: commands.policy is 'ask' but this agent runs headless without its " +
        "dashboard, so nobody can approve 'ls'. The machine's owner can run the agent with `minion-agent run --ui` " +
        'to approve commands in the dashboard, or set commands.policy to allowlist (with commands.allowlist) or ' +
        'allow in the agent config.',
    );
    expect(reason(base, 'external', ['ls'])).toBe(
      "refused by the agent's local policy: external commands are disabled (commands.policy: deny). " +
        "The machine's owner can allow them by setting commands.policy to allowlist (with commands.allowlist), " +
        'ask (desktop app, or the dashboard of `minion-agent run --ui`) or allow in the agent config.',
    );
  });

  it('shows an empty argument as ""', () => {
    expect(formatCommandLine(['echo', '', 'x'])).toBe('echo "" x');
  });
});
