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
