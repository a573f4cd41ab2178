/** TLS against the sandbox server with a CA generated in the test (openssl CLI). */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionManager, testConnection } from '../../../src-main/agent/connection/connection';
import { logFrame } from '../../../src-main/agent/protocol/frames';
import { type SandboxServer, startSandboxServer } from '../../../src-main/sandbox/sandbox-server';
import {
  GROUP_ID,
  GROUP_KEY,
  managerOptions,
  nextReady,
  SERVER_ID,
  waitFor,
} from '../../support/connection-helpers';
import { createTestPki, type TestPki } from '../../support/test-pki';

let pki: TestPki;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.cleanup());
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tlsSandbox(requestCert = false): Promise<SandboxServer> {
  const server = await startSandboxServer({
    groups: [{ id: GROUP_ID, key: GROUP_KEY }],
    tls: { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert },
  });
  cleanups.push(() => server.close());
  return server;
}

describe('TLS', () => {
  it('connects, authenticates and delivers frames with the right CA; closes with a reset', async () => {
    const server = await tlsSandbox();
    const m = new ConnectionManager(
      managerOptions(server.address.port, { tls: { enabled: true, caFile: pki.caFile } }),
    );
    cleanups.push(() => m.stop());
    m.start();
    expect(await nextReady(m)).toBe(1);
    expect(m.view().tls).toBe(true);
    m.send(logFrame(GROUP_ID, SERVER_ID, 'syslog', 'over tls'));
    await m.barrier();
    expect(server.logs.map((l) => l.message)).toEqual(['over tls']);
    await m.stop();
    await waitFor(() => server.connections[0]?.closedAt != null, 2_000, 'the close');
    expect(server.connections[0]?.closeCause).toBe('client-reset');
    expect(server.poisonFrames).toEqual([]);
  });

  it('checks the certificate against server_name', async () => {
    const server = await tlsSandbox();
    const good = await testConnection(
      managerOptions(server.address.port, {
        tls: { enabled: true, caFile: pki.caFile, serverName: 'minion.test' },
      }),
    );
    expect(good.ok).toBe(true);
    const bad = await testConnection(
      managerOptions(server.address.port, {
        tls: { enabled: true, caFile: pki.caFile, serverName: 'other.test' },
      }),
    );
    expect(bad).toMatchObject({ ok: false, state: 'tls-error' });
    expect(bad.explanation).toMatch(/other\.test/);
  });

  it("a wrong CA gives 'tls-error' with a hint", async () => {
    const server = await tlsSandbox();
    const outcome = await testConnection(
      managerOptions(server.address.port, { tls: { enabled: true, caFile: pki.otherCaFile } }),
    );
    expect(outcome).toMatchObject({ ok: false, state: 'tls-error' });
    expect(outcome.explanation).toMatch(/TLS connection .* failed: .*(certificate|self.signed|issuer)/i);
    expect(outcome.fixHint).toMatch(/tls\.ca_file/);
  });

  it("TLS towards a plaintext server gives 'tls-error'", async () => {
    const server = await startSandboxServer({ groups: [{ id: GROUP_ID, key: GROUP_KEY }] });
    cleanups.push(() => server.close());
    const outcome = await testConnection(
      managerOptions(server.address.port, { tls: { enabled: true, caFile: pki.caFile } }),
    );
    expect(outcome).toMatchObject({ ok: false, state: 'tls-error' });
  });

  it("an unreadable CA file gives 'tls-error' naming the file", async () => {
    const server = await tlsSandbox();
    const outcome = await testConnection(
      managerOptions(server.address.port, { tls: { enabled: true, caFile: `${pki.dir}/missing.crt` } }),
    );
    expect(outcome).toMatchObject({ ok: false, state: 'tls-error' });
    expect(outcome.explanation).toMatch(/missing\.crt/);
  });

  it('presents a client certificate when the server requires one', async () => {
    const server = await tlsSandbox(true);
    const withCert = await testConnection(
      managerOptions(server.address.port, {
        tls: { enabled: true, caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile },
      }),
    );
    expect(withCert.ok).toBe(true);
    const without = await testConnection(
      managerOptions(server.address.port, { tls: { enabled: true, caFile: pki.caFile } }),
    );
    expect(without).toMatchObject({ ok: false, state: 'tls-error' });
    expect(without.explanation).toMatch(/certificate/);
  });
});
