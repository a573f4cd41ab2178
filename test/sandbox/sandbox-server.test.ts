/** The sandbox StreamServer answers like the real one (protocol.md §3, §14), driven by hand-made bytes. */
import net from 'node:net';
import { encode } from '@msgpack/msgpack';
import { afterEach, describe, expect, it } from 'vitest';
import { type WireFrame } from '../../src-shared/view-models';
import { encodeFrame, FrameDecoder } from '../../src-main/agent/protocol/codec';
import {
  authFrame,
  heartbeatFrame,
  logFrame,
  resultFrame,
  telemetryFrame,
} from '../../src-main/agent/protocol/frames';
import { newMinionUuid } from '../../src-main/agent/protocol/uuid';
import {
  SandboxDispatchError,
  type SandboxServer,
  startSandboxServer,
} from '../../src-main/sandbox/sandbox-server';
import { GROUP_ID, GROUP_KEY, SERVER_ID, sleep, waitFor } from '../support/connection-helpers';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sandbox(commandsEnabled = true): Promise<SandboxServer> {
  const server = await startSandboxServer({ groups: [{ id: GROUP_ID, key: GROUP_KEY }], commandsEnabled });
  cleanups.push(() => server.close());
  return server;
}

/** A raw client: write bytes, collect decoded frames, see whether (and how) the server closed. */
class RawClient {
  readonly frames: WireFrame[] = [];
  ended = false;
  private readonly decoder = new FrameDecoder();

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.frames.push(...this.decoder.push(chunk)));
    socket.on('end', () => (this.ended = true));
    socket.on('error', () => (this.ended = true));
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RawClient(socket);
    cleanups.push(() => void socket.destroy());
    return client;
  }

  send(frame: WireFrame): void {
    this.socket.write(encodeFrame(frame));
  }

  async reply(timeoutMs = 1_000): Promise<WireFrame> {
    const before = this.frames.length;
    await waitFor(() => this.frames.length > before, timeoutMs, 'a reply');
    return this.frames[before] as WireFrame;
  }
}

function rawFrame(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(payload.length + 2);
  out.writeUInt16BE(payload.length, 0);
  out.set(payload, 2);
  return out;
}

describe('authentication and heartbeat', () => {
  it('accepts the right key with R [uuid, "accepted"] and answers heartbeats with "recorded"', async () => {
    const server = await sandbox();
    const client = await RawClient.connect(server.address.port);
    const auth = authFrame(GROUP_ID, SERVER_ID, GROUP_KEY);
    client.send(auth);
    const reply = await client.reply();
    expect(reply[0]).toBe('R');
    expect(reply[2]).toEqual([auth[1], 'accepted']);
    const hb = heartbeatFrame(GROUP_ID, SERVER_ID);
    client.send(hb);
    expect((await client.reply())[2]).toEqual([hb[1], 'recorded']);
    expect(server.connectedServerIds()).toEqual([SERVER_ID]);
  });

  it('answers a wrong key with "denied", then closes', async () => {
    const server = await sandbox();
    const client = await RawClient.connect(server.address.port);
    const auth = authFrame(GROUP_ID, SERVER_ID, 'nope');
    client.send(auth);
    expect((await client.reply())[2]).toEqual([auth[1], 'denied']);
    await waitFor(() => client.ended, 1_000, 'the close');
    expect(server.connections[0]?.closeCause).toBe('server-denied');
  });

  it('stays silent for an unknown group and keeps the connection open', async () => {
    const server = await sandbox();
    const client = await RawClient.connect(server.address.port);
    client.send(authFrame('unknown-group', SERVER_ID, GROUP_KEY));
    await sleep(200);
    expect(client.frames).toEqual([]);
    expect(client.ended).toBe(false);
    expect(server.openConnections()).toHaveLength(1);
  });

  it('without a command config closes on auth and on heartbeat without replying', async () => {
    const server = await sandbox(false);
    for (const frame of [authFrame(GROUP_ID, SERVER_ID, GROUP_KEY), heartbeatFrame(GROUP_ID, SERVER_ID)]) {
      const client = await RawClient.connect(server.address.port);
      client.send(frame);
      await waitFor(() => client.ended, 1_000, 'the close');
      expect(client.frames).toEqual([]);
    }
    // Logs and telemetry still work there.
    const client = await RawClient.connect(server.address.port);
    client.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', 'file-only mode'));
    await waitFor(() => server.logs.length === 1, 1_000, 'the log');
  });
});

describe('strict decoding: closes the connection on every §14 input', () => {
  const uuid = newMinionUuid();
  const cases: Array<[string, Buffer]> = [
    ['zero-length frame', Buffer.from([0, 0])],
    ['garbage msgpack', rawFrame(Buffer.from([0xc1, 0xc1, 0xc1]))],
    ['truncated msgpack', rawFrame(Buffer.from([0x93, 0xa1]))],
    ['a top-level map', rawFrame(encode({ a: 1 }))],
    ['a 2-element array', rawFrame(encode(['L', uuid]))],
    ['an integer inside data', rawFrame(encode(['L', uuid, [GROUP_ID, SERVER_ID, 1, 'x']]))],
    ['nil inside data', rawFrame(encode(['L', uuid, [GROUP_ID, SERVER_ID, null, 'x']]))],
    ['a map inside data', rawFrame(encode(['L', uuid, [GROUP_ID, SERVER_ID, { a: 'b' }, 'x']]))],
    ['a non-hex UUID', encodeFrame(['L', 'not-a-uuid-zz', [GROUP_ID, SERVER_ID, 'syslog', 'x']])],
    ['an L frame with 3 data items', encodeFrame(['L', uuid, [GROUP_ID, SERVER_ID, 'syslog']])],
  ];
  for (const [name, bytes] of cases) {
    it(name, async () => {
      const server = await sandbox();
      const client = await RawClient.connect(server.address.port);
      client.socket.write(bytes);
      await waitFor(() => client.ended, 1_000, 'the server to close');
      expect(server.connections[0]?.closeCause).toBe('server-protocol');
      expect(server.logs).toEqual([]);
    });
  }

  it('accepts what the real server accepts: a 4-element top-level array and bin strings', async () => {
    const server = await sandbox();
    const client = await RawClient.connect(server.address.port);
    client.socket.write(
      rawFrame(encode(['L', newMinionUuid(), [GROUP_ID, SERVER_ID, 'syslog', 'four'], 'extra'])),
    );
    client.socket.write(
      rawFrame(
        encode(['L', newMinionUuid(), [GROUP_ID, SERVER_ID, 'syslog', new TextEncoder().encode('as bin')]]),
      ),
    );
    await waitFor(() => server.logs.length === 2, 1_000, 'both logs');
    expect(server.logs.map((l) => l.message)).toEqual(['four', 'as bin']);
    expect(client.ended).toBe(false);
  });
});

describe('stores and poison detection', () => {
  it('stores logs, telemetry and results with their frame UUIDs; drops unknown groups silently', async () => {
    const server = await sandbox();
    const client = await RawClient.connect(server.address.port);
    const log = logFrame(GROUP_ID, SERVER_ID, 'syslog', 'hello world');
    const tel = telemetryFrame(GROUP_ID, SERVER_ID, 'load_avg', ['0.52']);
    const json = telemetryFrame(GROUP_ID, SERVER_ID, 'JSON:{"disk_usage":[]}', []);
    const res = resultFrame(GROUP_ID, SERVER_ID, '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed', 'out', '');
    for (const f of [log, tel, json, res, logFrame('other-group', SERVER_ID, 'syslog', 'dropped')])
      client.send(f);
    await waitFor(() => server.results.length === 1, 1_000, 'the result');
    expect(server.logs).toMatchObject([
      { uuid: log[1], service: 'syslog', message: 'hello world', serverId: SERVER_ID },
    ]);
    expect(server.telemetry.map((t) => [t.uuid, t.values])).toEqual([
      [tel[1], ['load_avg', '0.52']],
      [json[1], ['JSON:{"disk_usage":[]}']],
    ]);
    expect(server.results[0]).toMatchObject({
      uuid: res[1],
      commandUuid: '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed',
      stdout: 'out',
      stderr: '',
    });
    expect(server.poisonFrames).toEqual([]);
  });

  it('flags frames that would kill the real server writers, without storing them', async () => {
    const server = await sandbox();
    const poisoned: string[] = [];
    server.on('poison', (p) => poisoned.push(p.reason));
    const client = await RawClient.connect(server.address.port);
    const dup = logFrame(GROUP_ID, SERVER_ID, 'syslog', 'first');
    client.send(['L', 'deadbeef', [GROUP_ID, SERVER_ID, 'syslog', 'short uuid']]);
    client.send(['T', newMinionUuid(), [GROUP_ID, SERVER_ID]]);
    client.send(['L', newMinionUuid(), [GROUP_ID, SERVER_ID, 'syslog', '']]);
    client.send(['T', newMinionUuid(), [GROUP_ID, SERVER_ID, '', '1']]);
    client.send(['T', newMinionUuid(), [GROUP_ID, SERVER_ID, 'JSON:{oops']]);
    client.send(dup);
    client.send([dup[0], dup[1], [GROUP_ID, SERVER_ID, 'syslog', 'replayed with the same uuid']]);
    await waitFor(() => server.poisonFrames.length === 6, 1_000, 'six poison frames');
    expect(poisoned.join('\n')).toMatch(/deadbeef/);
    expect(poisoned.join('\n')).toMatch(/only \[group, server\]/);
    expect(poisoned.join('\n')).toMatch(/empty log message/);
    expect(poisoned.join('\n')).toMatch(/empty telemetry name/);
    expect(poisoned.join('\n')).toMatch(/invalid JSON/);
    expect(poisoned.join('\n')).toMatch(/duplicate frame UUID/);
    expect(server.logs.map((l) => l.message)).toEqual(['first']);
    expect(server.telemetry).toEqual([]);
  });
});

describe('bounded stores', () => {
  it('keeps at most maxStored (+10 %) entries, newest last', async () => {
    const server = await startSandboxServer({ groups: [{ id: GROUP_ID, key: GROUP_KEY }], maxStored: 10 });
    cleanups.push(() => server.close());
    const client = await RawClient.connect(server.address.port);
    for (let i = 0; i < 30; i++) client.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', `m${i}`));
    await waitFor(() => server.logs.at(-1)?.message === 'm29', 1_000, 'the last log');
    expect(server.logs.length).toBeLessThanOrEqual(11);
    expect(server.logs.length).toBeGreaterThanOrEqual(10);
    expect(server.frames.length).toBeLessThanOrEqual(11);
    expect(server.poisonFrames).toEqual([]);
  });
});

describe('commands', () => {
  it('dispatches C [type, argv…] with a v4 UUID and resolves with the matching R', async () => {
    const server = await sandbox();
    const client = await RawClient.connect(server.address.port);
    client.send(authFrame(GROUP_ID, SERVER_ID, GROUP_KEY));
    await client.reply();
    const pending = server.dispatchCommand(SERVER_ID, 'external', ['ls', '-la', '/tmp'], {
      timeoutMs: 1_000,
    });
    const command = await client.reply();
    expect(command[0]).toBe('C');
    expect(command[1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(command[2]).toEqual(['external', 'ls', '-la', '/tmp']);
    client.send(resultFrame(GROUP_ID, SERVER_ID, command[1], 'listing', 'warn'));
    const result = await pending;
    expect(result).toMatchObject({ commandUuid: command[1], stdout: 'listing', stderr: 'warn' });
  });

  it('rejects a dispatch to a server id that is not connected, and one that times out', async () => {
    const server = await sandbox();
    await expect(server.dispatchCommand(SERVER_ID, 'internal', ['status'])).rejects.toBeInstanceOf(
      SandboxDispatchError,
    );
    const client = await RawClient.connect(server.address.port);
    client.send(authFrame(GROUP_ID, SERVER_ID, GROUP_KEY));
    await client.reply();
    await expect(
      server.dispatchCommand(SERVER_ID, 'internal', ['status'], { timeoutMs: 100 }),
    ).rejects.toThrow(/within 100 ms/);
  });

  it('a later auth with the same server id takes over the commands', async () => {
    const server = await sandbox();
    const first = await RawClient.connect(server.address.port);
    first.send(authFrame(GROUP_ID, SERVER_ID, GROUP_KEY));
    await first.reply();
    const second = await RawClient.connect(server.address.port);
    second.send(authFrame(GROUP_ID, SERVER_ID, GROUP_KEY));
    await second.reply();
    void server
      .dispatchCommand(SERVER_ID, 'internal', ['version'], { timeoutMs: 100 })
      .catch(() => undefined);
    await second.reply();
    expect(first.frames).toHaveLength(1);
  });
});

describe('lifecycle', () => {
  it('records how a client closed: FIN vs RST', async () => {
    const server = await sandbox();
    const fin = await RawClient.connect(server.address.port);
    fin.socket.end();
    const rst = await RawClient.connect(server.address.port);
    rst.socket.resetAndDestroy();
    await waitFor(() => server.connections.every((c) => c.closedAt !== null), 1_000, 'both closes');
    expect(server.connections.map((c) => c.closeCause)).toEqual(['client-fin', 'client-reset']);
  });

  it('stop() then restart() listens on the same port and keeps the stores', async () => {
    const server = await sandbox();
    const port = server.address.port;
    const client = await RawClient.connect(port);
    client.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', 'before'));
    await waitFor(() => server.logs.length === 1, 1_000, 'the log');
    await server.stop();
    expect(server.listening).toBe(false);
    await waitFor(() => client.ended, 1_000, 'the client to see the stop');
    await server.restart();
    expect(server.address.port).toBe(port);
    const again = await RawClient.connect(port);
    again.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', 'after'));
    await waitFor(() => server.logs.length === 2, 1_000, 'the second log');
    expect(server.logs.map((l) => l.message)).toEqual(['before', 'after']);
  });
});

describe('real-server storage model', () => {
  async function storing(flushDelayMs: number, heartbeatDelayMs = 0): Promise<SandboxServer> {
    const server = await startSandboxServer({
      groups: [{ id: GROUP_ID, key: GROUP_KEY }],
      storage: { flushDelayMs },
      heartbeatDelayMs,
    });
    cleanups.push(() => server.close());
    return server;
  }

  async function authenticated(server: SandboxServer): Promise<RawClient> {
    const client = await RawClient.connect(server.address.port);
    client.send(authFrame(GROUP_ID, SERVER_ID, GROUP_KEY));
    expect((await client.reply())[2][1]).toBe('accepted');
    return client;
  }

  it('answers a heartbeat once the frames before it are read, but stores them only at the next flush', async () => {
    const server = await storing(60_000);
    const client = await authenticated(server);
    client.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', 'read, not stored'));
    client.send(heartbeatFrame(GROUP_ID, SERVER_ID));
    expect((await client.reply())[2][1]).toBe('recorded');
    expect(server.logs).toEqual([]);
    expect(server.unflushedFrames).toBe(1);
    server.flush();
    expect(server.logs.map((l) => l.message)).toEqual(['read, not stored']);
  });

  it('flushes every flushDelayMs on its own', async () => {
    const server = await storing(50);
    const client = await authenticated(server);
    client.send(telemetryFrame(GROUP_ID, SERVER_ID, 'load_avg', ['0.5']));
    await waitFor(() => server.telemetry.length === 1, 2_000, 'the periodic flush');
    expect(server.unflushedFrames).toBe(0);
  });

  it('kill() loses what was not flushed and resets the connections; a clean stop() flushes', async () => {
    const server = await storing(60_000);
    const client = await authenticated(server);
    client.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', 'flushed'));
    client.send(heartbeatFrame(GROUP_ID, SERVER_ID));
    await client.reply();
    server.flush();
    client.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', 'lost'));
    client.send(heartbeatFrame(GROUP_ID, SERVER_ID));
    await client.reply();
    await server.kill();
    await waitFor(() => client.ended, 1_000, 'the connection to end');
    expect(server.logs.map((l) => l.message)).toEqual(['flushed']);
    expect(server.lostOnKill).toBe(1);
    await server.restart();
    const again = await authenticated(server);
    again.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', 'kept by a clean stop'));
    again.send(heartbeatFrame(GROUP_ID, SERVER_ID));
    await again.reply();
    await server.stop();
    expect(server.logs.map((l) => l.message)).toEqual(['flushed', 'kept by a clean stop']);
  });

  it('counts heartbeats per server id; a slow heartbeat holds the later frames of its connection back', async () => {
    const server = await storing(60_000, 150);
    const client = await authenticated(server);
    let laterFrameRead = false;
    let readDuringCommit: boolean | null = null;
    server.on('frame', (event) => {
      if (event.frame[0] === 'L') laterFrameRead = true;
    });
    // Right after the heartbeat is read, the frame behind it (same chunk or the next) must still be waiting.
    server.on('heartbeat', () => {
      setTimeout(() => (readDuringCommit = laterFrameRead), 50);
    });
    client.send(heartbeatFrame(GROUP_ID, SERVER_ID));
    client.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', 'after the commit'));
    expect((await client.reply())[2][1]).toBe('recorded');
    await waitFor(() => laterFrameRead && readDuringCommit !== null, 1_000, 'the later frame');
    expect(readDuringCommit).toBe(false);
    expect(server.heartbeatCount).toBe(1);
    expect(server.heartbeatsByServer.get(SERVER_ID)).toBe(1);
  });
});
