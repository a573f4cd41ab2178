import Conf from 'conf';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { groupKeyStore, SettingsStore, type SafeStorageLike } from '../../src-main/app/settings-store';
import { type GroupKeyBackend } from '../../src-main/agent/agent';

/** Reversible fake "encryption" that is visibly not the plaintext. */
function fakeSafeStorage(available: boolean, backend?: string): SafeStorageLike & { decryptFails: boolean } {
  const fake = {
    decryptFails: false,
    isEncryptionAvailable: () => available,
    encryptString: (text: string) => Buffer.from([...Buffer.from(text)].map((b) => b ^ 0x5a)),
    decryptString: (data: Buffer) => {
      if (fake.decryptFails) throw new Error('Error while decrypting the ciphertext');
      return Buffer.from([...data].map((b) => b ^ 0x5a)).toString();
    },
    getSelectedStorageBackend: () => (backend ?? 'gnome_libsecret') as never,
  };
  return fake;
}

describe('SettingsStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'minion-settings-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const file = () => join(dir, 'settings.json');
  // electron-store extends conf; conf with the same options is what runs inside Electron.
  const open = (safeStorage: SafeStorageLike = fakeSafeStorage(true), platform: NodeJS.Platform = 'linux') =>
    new SettingsStore({
      createStore: () =>
        new Conf({ cwd: dir, configName: 'settings', clearInvalidConfig: false, projectName: 'minion-test' }),
      storeFilePath: file(),
      safeStorage,
      platform,
      now: () => 1234,
    });

  it('starts with defaults and persists updates', () => {
    const store = open();
    expect(store.get()).toEqual({ startAtLogin: false, notifyOfflineAfterMinutes: 5, groupKey: null });
    store.update({ startAtLogin: true });
    expect(open().get().startAtLogin).toBe(true);
    expect(() => store.update({ notifyOfflineAfterMinutes: 0 })).toThrow();
    expect(store.notices).toEqual([]);
  });

  it('safeStorage present: the key is stored encrypted, never in clear', () => {
    const store = open(fakeSafeStorage(true), 'darwin');
    expect(store.keyStorage()).toBe('safe-storage');
    expect(store.saveGroupKey('s3cret-group-key')).toBe(true);
    expect(readFileSync(file(), 'utf8')).not.toContain('s3cret-group-key');
    expect(open(fakeSafeStorage(true), 'darwin').loadGroupKey()).toBe('s3cret-group-key');
    expect(store.get().groupKey?.storage).toBe('safe-storage');
  });

  it('Linux without a keyring keeps the key in the config file (an obfuscated key is never called protected)', () => {
    // electron.d.ts SafeStorage: the backend is basic_text and isEncryptionAvailable() is false unless
    // setUsePlainTextEncryption(true) opted into the hard-coded-password obfuscation.
    const store = open(fakeSafeStorage(false, 'basic_text'), 'linux');
    expect(store.keyStorage()).toBe('config-file');
    expect(store.saveGroupKey('k')).toBe(false);
    // Even with plain-text encryption forced on, an obfuscated key is not called protected.
    const forced = open(fakeSafeStorage(true, 'basic_text'), 'linux');
    expect(forced.keyStorage()).toBe('config-file');
    expect(forced.saveGroupKey('k')).toBe(false);
  });

  it('safeStorage absent: nothing is stored, the key stays in the config file', () => {
    const store = open(fakeSafeStorage(false));
    expect(store.keyStorage()).toBe('config-file');
    expect(store.saveGroupKey('k')).toBe(false);
    expect(store.loadGroupKey()).toBeNull();
    expect(store.get().groupKey).toBeNull();
  });

  it('a key that no longer decrypts yields null and a notice', () => {
    const safe = fakeSafeStorage(true);
    open(safe).saveGroupKey('k');
    safe.decryptFails = true;
    const store = open(safe);
    expect(store.loadGroupKey()).toBeNull();
    expect(store.notices[0]?.message).toMatch(/could not be decrypted/);
  });

  it('an unparsable store file is backed up and reset, with a notice', () => {
    writeFileSync(file(), '{"startAtLogin": tru');
    const store = open();
    expect(store.get()).toEqual({ startAtLogin: false, notifyOfflineAfterMinutes: 5, groupKey: null });
    expect(store.notices).toHaveLength(1);
    expect(store.notices[0]).toMatchObject({ level: 'warn' });
    expect(store.notices[0]!.message).toContain('settings.json.corrupt-1234');
    expect(readFileSync(join(dir, 'settings.json.corrupt-1234'), 'utf8')).toBe('{"startAtLogin": tru');
    store.update({ startAtLogin: true });
    expect(JSON.parse(readFileSync(file(), 'utf8'))).toMatchObject({ startAtLogin: true });
  });

  it('a store file that parses but breaks the schema is backed up and reset too', () => {
    writeFileSync(file(), JSON.stringify({ startAtLogin: 'yes', surprise: 1 }));
    const store = open();
    expect(store.get().startAtLogin).toBe(false);
    expect(store.notices[0]!.message).toMatch(/startAtLogin/);
    expect(readdirSync(dir).sort()).toEqual(['settings.json', 'settings.json.corrupt-1234']);
    expect(JSON.parse(readFileSync(file(), 'utf8'))).toEqual({
      startAtLogin: false,
      notifyOfflineAfterMinutes: 5,
      groupKey: null,
    });
  });

  it('groupKeyStore adapts the store for the core', () => {
    // Typed as the core's option: the adapter must keep fitting AgentCoreOptions.groupKeyStore.
    const keys: GroupKeyBackend = groupKeyStore(open(fakeSafeStorage(true), 'win32'));
    expect(keys.kind).toBe('safe-storage');
    expect(keys.load()).toBeNull();
    expect(keys.save('k1')).toBe(true);
    expect(keys.load()).toBe('k1');
    keys.clear();
    expect(keys.load()).toBeNull();
  });
});
