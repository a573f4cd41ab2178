import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FrameClass, type WireFrame } from '../../../src-shared/view-models';
import { decodeFrame } from '../../../src-main/agent/protocol/codec';
import { logFrame, resultFrame, telemetryFrame } from '../../../src-main/agent/protocol/frames';
import { newMinionUuid } from '../../../src-main/agent/protocol/uuid';
import { type DeliveryTransport } from '../../../src-main/agent/spool/delivery';

export const GROUP = 'test-group-2';
export const SERVER = '5d7a2c3e-1b4f-4e8a-9c6d-0f1e2d3c4b5a';

export function tempDir(prefix = 'spool-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export type Cleanup = () => Promise<void> | void;

/**
 * What a test file undoes after each test (stop a pump, close a spool, remove a folder): `push` as resources are made,
 * `runAll` in `afterEach`. They run newest first, so nothing is removed while something made later still uses it.
 */
export class Cleanups {
  private readonly pending: Cleanup[] = [];

  push(...cleanups: Cleanup[]): void {
    this.pending.push(...cleanups);
  }

  async runAll(): Promise<void> {
    for (const cleanup of this.pending.splice(0).reverse()) await cleanup();
  }
}

export function frameOf(cls: FrameClass, text: string): WireFrame {
  switch (cls) {
    case 'log':
      return logFrame(GROUP, SERVER, 'syslog', text);
    case 'telemetry':
      return telemetryFrame(GROUP, SERVER, 'load_avg', [text]);
    case 'result':
      return resultFrame(GROUP, SERVER, newMinionUuid(), text, 'err');
  }
}

/** The text a test frame carries (message / value / stdout). */
export function textOf(frame: WireFrame): string {
  const item = frame[2][3];
  return Array.isArray(item) ? item.join('') : (item ?? '');
}

/**
 * The connection life cycle the test transports share: numbered connections that come up ('ready') and die ('down')
 * when the test says so, and a backpressure flag the test raises and clears ('drain').
 */
export abstract class TestConnections extends EventEmitter {
  /** The open connection's id; null while down. */
  protected current: number | null = null;
  private nextId = 1;
  /** What the transport's `writableNeedsDrain` answers; `drain()` clears it. */
  needsDrain = false;

  get connectionId(): number | null {
    return this.current;
  }

  /** Opens the next connection and announces it. */
  connect(): number {
    const id = this.nextId++;
    this.current = id;
    this.emit('ready', id);
    return id;
  }

  /** Kills the open connection, if any: `beforeDown` drops what dies with it, then 'down' is emitted. */
  protected disconnect(reason: string, beforeDown: () => void = () => {}): void {
    const id = this.current;
    if (id === null) return;
    this.current = null;
    beforeDown();
    this.emit('down', { connectionId: id, reason });
  }

  drain(): void {
    this.needsDrain = false;
    this.emit('drain');
  }
}

/**
 * In-memory transport: records every frame written, answers barriers after the frames before them (like the real
 * server), and can be made to die with some of the written frames never "received".
 */
export class FakeTransport extends TestConnections implements DeliveryTransport {
  /** Frames the "server" received, across connections. */
  received: WireFrame[] = [];
  /** Frames written on the current connection and not yet received. */
  private inTransit: WireFrame[] = [];
  /**
   * Everything passed through the fast path: the bytes (the fake server decodes them like the real one) and the
   * frame the pump gave along, if any (it gives one only when it had decoded the record anyway).
   */
  encodedSends: Array<{ bytes: Uint8Array; frame: WireFrame | undefined }> = [];
  /** cork() depth; frames written while corked count in `corkedWrites`. */
  corked = 0;
  corkedWrites = 0;
  maxCorkDepth = 0;

  cork(): void {
    this.corked++;
    this.maxCorkDepth = Math.max(this.maxCorkDepth, this.corked);
  }

  uncork(): void {
    this.corked--;
  }
  barrierDelayMs = 0;
  /** When set, barriers never answer (blackhole) until the connection dies. */
  blackhole = false;
  private pendingBarriers: Array<{
    id: number;
    resolve: (v: { connectionId: number; rttMs: number }) => void;
    reject: (e: Error) => void;
  }> = [];

  isReady(): boolean {
    return this.current !== null;
  }

  /** How often the pump looked at the backpressure flag (it does before every chunk it sends). */
  drainChecks = 0;

  get writableNeedsDrain(): boolean {
    this.drainChecks++;
    return this.needsDrain;
  }

  /** Barriers requested so far, with their (possibly fake) send time. */
  barrierTimes: number[] = [];

  /** Texts whose next send answers "not connected" once, without a 'down' (a connection that is closing). */
  refuseOnce = new Set<string>();

  send(frame: WireFrame): boolean {
    if (this.current === null) return false;
    if (this.refuseOnce.delete(textOf(frame))) return false;
    if (this.corked > 0) this.corkedWrites++;
    this.inTransit.push(frame);
    if (!this.blackhole) this.deliverInTransit();
    return true;
  }

  /** Optional like the interface's: a test sets it to undefined for a transport without the fast path. */
  sendEncoded?: (bytes: Uint8Array, frame?: WireFrame) => boolean = (bytes, frame) => {
    const written = this.send(decodeFrame(bytes));
    // Copied like the real connection does: the bytes are the reader's, reused by its next read.
    if (written) this.encodedSends.push({ bytes: Buffer.from(bytes), frame });
    return written;
  };

  private deliverInTransit(): void {
    this.received.push(...this.inTransit);
    this.inTransit = [];
  }

  barrier(): Promise<{ connectionId: number; rttMs: number }> {
    this.barrierTimes.push(Date.now());
    const id = this.current;
    if (id === null) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      const entry = { id, resolve, reject };
      this.pendingBarriers.push(entry);
      if (this.blackhole) return;
      setTimeout(() => {
        if (this.current !== id || this.blackhole) return;
        const i = this.pendingBarriers.indexOf(entry);
        if (i < 0) return;
        this.pendingBarriers.splice(i, 1);
        this.deliverInTransit();
        resolve({ connectionId: id, rttMs: this.barrierDelayMs });
      }, this.barrierDelayMs);
    });
  }

  /** A new connection is not blackholed. */
  override connect(): number {
    this.blackhole = false;
    return super.connect();
  }

  /** Kills the connection; frames in transit (blackholed) are lost, as on a real dead link. */
  kill(reason = 'killed'): void {
    this.disconnect(reason, () => {
      this.inTransit = [];
      for (const b of this.pendingBarriers.splice(0)) b.reject(new Error(reason));
    });
  }
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
