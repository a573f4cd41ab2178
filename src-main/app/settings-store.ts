/**
 * The desktop shell's own settings in electron-store (JSON under userData), validated with zod on every load, and
 * the agent's group key protected with Electron's `safeStorage` where the OS offers a keyring.
 *
 * The agent config itself stays the YAML file the core owns (same file the headless agent reads, so import/export
 * is lossless). What lives here: shell preferences, and the group key encrypted at rest.
 *
 * Honesty about key storage: on Linux without a Secret Service/KWallet the backend is `basic_text`, and
 * `isEncryptionAvailable()` is false unless `setUsePlainTextEncryption(true)` opts into an obfuscation with a
 * hard-coded password (electron.d.ts SafeStorage). That obfuscation is not protection, so it is never used: the key
 * stays in the config file, and the note says a keyring is missing ('basic-text' only describes keys stored that way
 * by older versions). A store file that does not parse or validate is backed up next to itself and reset, with a notice;
 * the app never crashes on it.
 */
import type { SafeStorage } from 'electron';
import { existsSync, renameSync } from 'node:fs';
import { z } from 'zod';
import type { ConfigView, Notice } from '../../src-shared/ipc';

export const desktopSettingsSchema = z
  .object({
    /** Mirror of the OS login item; the OS stays the source of truth where it can be asked. */
    startAtLogin: z.boolean().default(false),
    /** Notify after this long disconnected. */
    notifyOfflineAfterMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(5),
    /** Base64 of the encrypted group key, and how it was protected. */
    groupKey: z
      .object({ storage: z.enum(['safe-storage', 'basic-text']), ciphertext: z.string().min(1) })
      .nullable()
      .default(null),
  })
  .strict();
export type DesktopSettings = z.output<typeof desktopSettingsSchema>;
export type EditableDesktopSettings = Omit<DesktopSettings, 'groupKey'>;

/** The part of electron-store (conf) used here. */
export interface KeyValueStore {
  readonly path: string;
  readonly store: Record<string, unknown>;
  set(object: Record<string, unknown>): void;
  clear(): void;
}

export type SafeStorageLike = Pick<SafeStorage, 'isEncryptionAvailable' | 'encryptString' | 'decryptString'> &
  Partial<Pick<SafeStorage, 'getSelectedStorageBackend'>>;

export type KeyStorage = ConfigView['keyStorage'];

export interface SettingsStoreOptions {
  /** Builds the store (throws on an unparsable file: pass `clearInvalidConfig: false` to electron-store). */
  createStore: () => KeyValueStore;
  /** Where the store file lives, for backups when `createStore` throws before telling us. */
  storeFilePath: string;
  safeStorage: SafeStorageLike;
  platform: NodeJS.Platform;
  now?: () => number;
}

/** Linux without GNOME Keyring / KWallet: Chromium's backend is `basic_text`. */
export function linuxWithoutKeyring(safeStorage: SafeStorageLike, platform: NodeJS.Platform): boolean {
  return platform === 'linux' && safeStorage.getSelectedStorageBackend?.() === 'basic_text';
}

export function keyStorageKind(safeStorage: SafeStorageLike, platform: NodeJS.Platform): KeyStorage {
  if (linuxWithoutKeyring(safeStorage, platform)) return 'config-file';
  if (!safeStorage.isEncryptionAvailable()) return 'config-file';
  return 'safe-storage';
}

export class SettingsStore {
  readonly notices: Notice[] = [];
  private store: KeyValueStore;
  private settings: DesktopSettings;
  private readonly now: () => number;

  constructor(private readonly options: SettingsStoreOptions) {
    this.now = options.now ?? Date.now;
    this.store = this.openStore();
    this.settings = this.loadSettings();
  }

  get(): DesktopSettings {
    return this.settings;
  }

  update(patch: Partial<EditableDesktopSettings>): DesktopSettings {
    const next = desktopSettingsSchema.parse({ ...this.settings, ...patch });
    this.persist(next);
    return next;
  }

  keyStorage(): KeyStorage {
    return keyStorageKind(this.options.safeStorage, this.options.platform);
  }

  /**
   * Encrypts and stores the group key. Returns false (storing nothing) when the OS offers no encryption: the
   * caller keeps the key in the config file, as the headless agent does.
   */
  saveGroupKey(key: string): boolean {
    const kind = this.keyStorage();
    if (kind === 'config-file') return false;
    const ciphertext = this.options.safeStorage.encryptString(key).toString('base64');
    this.persist({ ...this.settings, groupKey: { storage: kind, ciphertext } });
    return true;
  }

  /** The stored group key, or null when none is stored or it cannot be decrypted any more (keyring changed). */
  loadGroupKey(): string | null {
    const stored = this.settings.groupKey;
    if (!stored || !this.options.safeStorage.isEncryptionAvailable()) return null;
    try {
      return this.options.safeStorage.decryptString(Buffer.from(stored.ciphertext, 'base64'));
    } catch {
      this.notices.push({
        level: 'warn',
        message:
          'The saved group key could not be decrypted (the OS keyring changed). Enter the group key again.',
      });
      return null;
    }
  }

  clearGroupKey(): void {
    this.persist({ ...this.settings, groupKey: null });
  }

  private persist(next: DesktopSettings): void {
    this.store.set(next as unknown as Record<string, unknown>);
    this.settings = next;
  }

  private backup(reason: string): void {
    const path = this.options.storeFilePath;
    if (!existsSync(path)) return;
    const backupPath = `${path}.corrupt-${this.now()}`;
    try {
      renameSync(path, backupPath);
      this.notices.push({
        level: 'warn',
        message: `The desktop settings file was damaged (${reason}). It was saved as ${backupPath} and the settings were reset to defaults.`,
      });
    } catch (error) {
      this.notices.push({
        level: 'error',
        message: `The desktop settings file is damaged (${reason}) and could not be moved aside: ${String(error)}. Defaults are used for now.`,
      });
    }
  }

  private openStore(): KeyValueStore {
    try {
      return this.options.createStore();
    } catch (error) {
      this.backup(error instanceof Error ? error.message.split('\n')[0]! : String(error));
      return this.options.createStore();
    }
  }

  private loadSettings(): DesktopSettings {
    const parsed = desktopSettingsSchema.safeParse(this.store.store);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    this.backup(issue ? `${issue.path.join('.') || 'file'}: ${issue.message}` : 'invalid content');
    // A rename keeps conf's in-memory view; clear so the next write starts from a clean file.
    this.store.clear();
    const defaults = desktopSettingsSchema.parse({});
    this.persist(defaults);
    return defaults;
  }
}

/**
 * The group key at rest, as the core consumes it (`AgentCoreOptions.groupKeyStore`, wired in main.ts): the core
 * reads the key from here when its YAML has none, writes saved keys here instead of the YAML when `save` returns
 * true, and reports `kind` as `ConfigView.keyStorage`.
 */
export interface GroupKeyStore {
  readonly kind: KeyStorage;
  load(): string | null;
  /** False when nothing could be stored safely; the caller then keeps the key in the config file. */
  save(key: string): boolean;
  clear(): void;
}

export function groupKeyStore(settings: SettingsStore): GroupKeyStore {
  return {
    get kind() {
      return settings.keyStorage();
    },
    load: () => settings.loadGroupKey(),
    save: (key) => settings.saveGroupKey(key),
    clear: () => settings.clearGroupKey(),
  };
}
