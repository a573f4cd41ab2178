// The entry point starts a plain `run` without commander (src-main/cli/run-arguments.ts) and hands every other
// command line to the full program. So on every line it accepts, it must read exactly what commander reads: this
// parses the same lines with the real program (its `run` captured) and compares, over hand-picked lines and
// generated ones.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CliIo } from '../../src-main/cli/io';
import { buildProgram } from '../../src-main/cli/program';
import { type RunInvocation } from '../../src-main/cli/run';
import { parseRunArguments } from '../../src-main/cli/run-arguments';

const started: RunInvocation[] = [];
vi.mock('../../src-main/cli/run', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  startRun: (invocation: RunInvocation) => {
    started.push(invocation);
    return Promise.resolve(0);
  },
}));

const quietIo: CliIo = {
  out: () => undefined,
  err: () => undefined,
  env: {},
  onSignal: () => () => undefined,
};

/** What commander makes of `args`: the run invocation, or null when the line is not a run (or an error). */
async function commanderReads(args: string[]): Promise<RunInvocation | null> {
  started.length = 0;
  const program = buildProgram(() => undefined, quietIo);
  const silence = (command: typeof program): void => {
    command.exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
    for (const sub of command.commands) silence(sub);
  };
  silence(program);
  try {
    await program.parseAsync(['node', 'minion-agent', ...args]);
  } catch {
    return null;
  }
  return started.length === 1 ? (started[0] as RunInvocation) : null;
}

beforeEach(() => {
  // A line commander would end with process.exit must fail the test, not end it.
  vi.spyOn(process, 'exit').mockImplementation((code) => {
    throw new Error(`process.exit(${String(code)})`);
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('parseRunArguments', () => {
  it.each([
    [[]],
    [['run']],
    [['-r']],
    [['--run']],
    [['-c', 'agent.yml', 'run']],
    [['--config', 'agent.yml']],
    [['--config=agent.yml', '--log-format', 'json', '--debug', 'run']],
    [['-c', 'agent.yml', 'run', '--ui', '--ui-port', '0', '--data-dir', '/var/lib/minion']],
    [['run', '--ui-port=47991', '--data-dir=/d']],
    [['-c', 'run']],
    [['--log-format=text', '-r', 'run']],
  ])('reads the run line %j as commander does', async (args) => {
    const fast = parseRunArguments(args);
    expect(fast).not.toBeNull();
    expect(fast).toEqual(await commanderReads(args));
  });

  it.each([
    [['--version']],
    [['-v']],
    [['--help']],
    [['run', '--help']],
    [['test']],
    [['config', 'validate']],
    [['version', '--check']],
    [['-cagent.yml', 'run']],
    [['run', '--ui-port', '70000']],
    [['run', '--ui-port', 'x']],
    [['--log-format', 'xml', 'run']],
    [['-c']],
    [['-c', '--debug']],
    [['run', 'run']],
    [['run', '--debug']],
    [['--debug', '--debug']],
  ])('leaves %j to the full program', (args) => {
    expect(parseRunArguments(args)).toBeNull();
  });

  it('agrees with commander on every generated line it accepts', async () => {
    const token = fc.constantFrom(
      'run',
      '-r',
      '--run',
      '--debug',
      '-c',
      '--config',
      'agent.yml',
      '--config=a.yml',
      '--config=',
      '--log-format',
      'json',
      'text',
      '--log-format=json',
      '--ui',
      '--ui=1',
      '--ui-port',
      '0',
      '65535',
      '1e3',
      '--ui-port=47991',
      '--data-dir',
      '/tmp/d',
      '--data-dir=/x',
      '-t',
      '-v',
      '--help',
      '--',
      'extra',
    );
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(token, { maxLength: 7 }), async (args) => {
        const fast = parseRunArguments(args);
        if (fast === null) return;
        accepted++;
        expect(fast).toEqual(await commanderReads(args));
      }),
      { numRuns: 400 },
    );
    // Not vacuous: a good share of the generated lines are run lines.
    expect(accepted).toBeGreaterThan(20);
  });
});
