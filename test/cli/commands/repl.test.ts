import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runRepl } from '../../../src-main/cli/commands/repl';
import { type SandboxServer, startSandboxServer } from '../../../src-main/sandbox/sandbox-server';
import {
  GROUP_ID,
  GROUP_KEY,
  managerOptions,
  SERVER_ID,
  sleep,
  waitFor,
} from '../../support/connection-helpers';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  debug = false,
): Promise<{ server: SandboxServer; input: PassThrough; text: () => string; done: Promise<number> }> {
  const server = await startSandboxServer({ groups: [{ id: GROUP_ID, key: GROUP_KEY }] });
  cleanups.push(() => server.close());
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const done = runRepl({
    connection: managerOptions(server.address.port),
    input,
    output,
    debug,
    tailPollMs: 20,
  });
  cleanups.push(async () => {
    input.end();
    await done;
  });
  return { server, input, text: () => text, done };
}

describe('minion-agent repl', () => {
  it('sends IAR lines as frames, repeats with N times {…}, prints server frames, exits on "exit"', async () => {
    const { server, input, text, done } = await setup();
    input.write('log::syslog::hello from the repl\n');
    input.write('telemetry::load_avg::0.52\n');
    input.write('3 times {log::syslog::message ITER}\n');
    input.write('log::syslog::\n');
    input.write('help\n');
    await waitFor(() => server.logs.length === 4, 3_000, 'four logs');
    expect(server.logs.map((l) => l.message)).toEqual([
      'hello from the repl',
      'message 0',
      'message 1',
      'message 2',
    ]);
    expect(server.telemetry[0]?.values).toEqual(['load_avg', '0.52']);
    await waitFor(() => text().includes('received by the server'), 2_000, 'the timing line');
    // The server's frames are printed: the auth verdict and the heartbeat reply of the timing barrier.
    expect(text()).toMatch(/< R [0-9a-f-]{36} \["[0-9a-f-]{36}","accepted"\]/);
    expect(text()).toMatch(/< R .*"recorded"/);
    expect(text()).toMatch(/! not sent: .*message/);
    expect(text()).toMatch(/log::SERVICE::MESSAGE/);
    const command = server
      .dispatchCommand(SERVER_ID, 'external', ['uptime'], { timeoutMs: 500 })
      .catch(() => null);
    await waitFor(() => text().includes('["external","uptime"]'), 2_000, 'the command to be printed');
    await command;
    input.write('exit\n');
    expect(await done).toBe(0);
    expect(text()).toMatch(/# idle/);
    expect(server.poisonFrames).toEqual([]);
  });

  it('--debug prints the wire trace in both directions with hex, key redacted', async () => {
    const { server, input, text } = await setup(true);
    input.write('log::syslog::traced\n');
    await waitFor(() => server.logs.length === 1, 3_000, 'the log');
    await waitFor(() => /> L /.test(text()), 1_000, 'the outgoing L in the trace');
    expect(text()).toMatch(
      /> C [0-9a-f-]{36} \["test-group-2","[0-9a-f-]{36}","authenticate-agent",\["\*\*\*"\]\]/,
    );
    expect(text()).toMatch(/< R /);
    expect(text()).toMatch(/\d+ bytes [0-9a-f]+/);
    expect(text()).not.toContain(GROUP_KEY);
  });

  it('tail::SERVICE::PATH follows a file from its end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'repl-tail-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'app.log');
    writeFileSync(file, 'old line, not shipped\n');
    const { server, input, text } = await setup();
    input.write(`tail::app::${file}\n`);
    await waitFor(() => text().includes('following'), 2_000, 'the tail to start');
    await sleep(60);
    appendFileSync(file, 'new line 1\nnew line 2\r\npartial');
    await waitFor(() => server.logs.length === 2, 3_000, 'two tailed lines');
    appendFileSync(file, ' completed\n');
    await waitFor(() => server.logs.length === 3, 3_000, 'the completed line');
    expect(server.logs.map((l) => [l.service, l.message])).toEqual([
      ['app', 'new line 1'],
      ['app', 'new line 2'],
      ['app', 'partial completed'],
    ]);
  });
});
