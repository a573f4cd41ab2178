/**
 * `persistServerId` writes a generated server id into the config file as the file is *when it writes*, not as it was
 * at load: an edit made in between (by hand, the settings window, another tool) survives, an id that appeared in
 * between is kept, and a file that became unreadable or invalid is left alone (the id goes to `<data dir>/server-id`).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfigFile, persistServerId, SERVER_ID_FILE } from '../../../src-main/agent/config';

const OTHER_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';

let dir: string;
let dataDir: string;
let idFile: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'minion-server-id-'));
  dataDir = join(dir, 'state');
  idFile = join(dataDir, SERVER_ID_FILE);
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A config without a server id, loaded: the id is generated and waits for `persistServerId`. */
function loadWithoutId(extra = ''): { path: string; loaded: ReturnType<typeof loadConfigFile> } {
  const path = join(dir, 'config.yml');
  writeFileSync(path, `# my agent\ngroup_id: g\ndata_dir: ${dataDir}\n${extra}`);
  const loaded = loadConfigFile(path);
  expect(loaded.serverIdSource).toBe('generated');
  return { path, loaded };
}

describe('persistServerId after the file changed since the load', () => {
  it('keeps an edit made between the load and the write, and inserts the id into the current text', async () => {
    const { path, loaded } = loadWithoutId();
    const edited =
      `# my agent\ngroup_id: g\ndata_dir: ${dataDir}\n` +
      '# set by the settings window meanwhile\nserver_name: edited-meanwhile\nlog_level: debug\n';
    writeFileSync(path, edited);

    expect(await persistServerId(loaded.serverIdToPersist)).toEqual([]);

    const id = loaded.config.server_id;
    expect(readFileSync(path, 'utf8')).toBe(`${edited}server_id: ${id}\n`);
    const next = loadConfigFile(path);
    expect(next.serverIdSource).toBe('config');
    expect(next.config.server_id).toBe(id);
    expect(next.config.server_name).toBe('edited-meanwhile');
    expect(next.config.log_level).toBe('debug');
    expect(existsSync(idFile)).toBe(false);
  });

  it('does not bring back a file deleted meanwhile: the id goes to the data dir (headless load)', async () => {
    const { path, loaded } = loadWithoutId();
    unlinkSync(path);
    expect(await persistServerId(loaded.serverIdToPersist)).toEqual([
      `server_id: not written to ${path}: it was deleted after it was loaded; the file is left as it is and the id kept in ${idFile}`,
    ]);
    expect(existsSync(path)).toBe(false);
    expect(readFileSync(idFile, 'utf8')).toBe(`${loaded.config.server_id}\n`);
  });

  it('creates the file with just the id when the load may create it (the desktop) and it is gone', async () => {
    const path = join(dir, 'config.yml');
    writeFileSync(path, `group_id: g\ndata_dir: ${dataDir}\n`);
    const loaded = loadConfigFile(path, { createIfMissing: true });
    expect(loaded.serverIdSource).toBe('generated');
    unlinkSync(path);
    expect(await persistServerId(loaded.serverIdToPersist)).toEqual([]);
    expect(readFileSync(path, 'utf8')).toBe(`server_id: ${loaded.config.server_id}\n`);
  });

  it('keeps a server_id that appeared in the file meanwhile, and says so', async () => {
    const { path, loaded } = loadWithoutId();
    const withId = `# my agent\ngroup_id: g\ndata_dir: ${dataDir}\nserver_id: ${OTHER_ID}  # provisioned\n`;
    writeFileSync(path, withId);

    const warnings = await persistServerId(loaded.serverIdToPersist);

    expect(readFileSync(path, 'utf8')).toBe(withId);
    expect(warnings).toEqual([
      `server_id: ${path} got a server_id of its own (${OTHER_ID}) after it was loaded; kept it. ` +
        `This run uses ${loaded.config.server_id}, the next start ${OTHER_ID}.`,
    ]);
    expect(existsSync(idFile)).toBe(false);
    expect(loadConfigFile(path).config.server_id).toBe(OTHER_ID);
  });

  it('says nothing when the id that appeared meanwhile is the generated one', async () => {
    const { path, loaded } = loadWithoutId();
    const withId = `group_id: g\ndata_dir: ${dataDir}\nserver_id: ${loaded.config.server_id.toUpperCase()}\n`;
    writeFileSync(path, withId);
    expect(await persistServerId(loaded.serverIdToPersist)).toEqual([]);
    expect(readFileSync(path, 'utf8')).toBe(withId);
  });

  it('leaves a file that is no longer valid YAML as it is and keeps the id in the data dir', async () => {
    const { path, loaded } = loadWithoutId();
    const broken = `# my agent\ngroup_id: g\ndata_dir: ${dataDir}\nserver_name: "half-typed\n`;
    writeFileSync(path, broken);

    const warnings = await persistServerId(loaded.serverIdToPersist);

    expect(readFileSync(path, 'utf8')).toBe(broken);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(
        `^server_id: not written to ${escape(path)}: it changed since it was loaded and is not valid now ` +
          `\\(\\(yaml line \\d+, column \\d+\\): [^)]+\\); the file is left as it is and the id kept in ` +
          `${escape(idFile)}$`,
      ),
    );
    expect(readFileSync(idFile, 'utf8')).toBe(`${loaded.config.server_id}\n`);

    // Once the file is fixed (without an id), the next start takes the same id from the data dir.
    writeFileSync(path, `group_id: g\ndata_dir: ${dataDir}\n`);
    const next = loadConfigFile(path);
    expect(next.serverIdSource).toBe('data-dir');
    expect(next.config.server_id).toBe(loaded.config.server_id);
  });

  it('leaves a file whose settings became invalid as it is', async () => {
    const { path, loaded } = loadWithoutId();
    const invalid = `group_id: g\ndata_dir: ${dataDir}\nlog_level: loud\n`;
    writeFileSync(path, invalid);

    const warnings = await persistServerId(loaded.serverIdToPersist);

    expect(readFileSync(path, 'utf8')).toBe(invalid);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`server_id: not written to ${path}: it changed since it was loaded`);
    expect(warnings[0]).toContain('log_level: ');
    expect(readFileSync(idFile, 'utf8')).toBe(`${loaded.config.server_id}\n`);
  });

  it('leaves a path that cannot be read any more alone (here: it became a directory)', async () => {
    const { path, loaded } = loadWithoutId();
    unlinkSync(path);
    mkdirSync(path);

    const warnings = await persistServerId(loaded.serverIdToPersist);

    expect(warnings).toEqual([
      `server_id: not written to ${path}: cannot read it (EISDIR); ` +
        `the file is left as it is and the id kept in ${idFile}`,
    ]);
    expect(readFileSync(idFile, 'utf8')).toBe(`${loaded.config.server_id}\n`);
  });

  it('says the id will change when the file became invalid and the data dir cannot be written either', async () => {
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    dataDir = join(blocker, 'state'); // mkdir fails with ENOTDIR, for root too
    const { path, loaded } = loadWithoutId();
    writeFileSync(path, 'group_id: [unclosed\n');

    const warnings = await persistServerId(loaded.serverIdToPersist);

    expect(readFileSync(path, 'utf8')).toBe('group_id: [unclosed\n');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(
        `^server_id: could not be persisted \\(${escape(path)}: it changed since it was loaded and is not valid ` +
          `now \\(.+\\), ENOTDIR\\); a new id will be generated on the next start\\. ` +
          `Set server_id in ${escape(path)} to keep it stable\\.$`,
      ),
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
