import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The agent core must stay plain Node; the lint rule is what fails the build when someone imports Electron there.
const eslint = new ESLint({ cwd: process.cwd() });

async function restrictedImportErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('ESLint architecture boundaries', () => {
  it.each([
    ['src-main/agent/connection/some-file.ts', "import { app } from 'electron';\nexport const x = app;\n"],
    ['src-main/agent/spool/other.ts', "import electron = require('electron');\nexport const y = electron;\n"],
    ['src-main/sandbox/x.ts', "export { autoUpdater } from 'electron-updater';\n"],
    ['src-shared/x.ts', "import type { BrowserWindow } from 'electron';\nexport type W = BrowserWindow;\n"],
    ['src-main/cli/x.ts', "import Store from 'electron-store';\nexport const s = Store;\n"],
  ])('rejects an Electron import in %s', async (filePath, code) => {
    const errors = await restrictedImportErrors(filePath, code);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(/plain Node/);
  });

  it('allows Electron in the thin app layer', async () => {
    const errors = await restrictedImportErrors(
      'src-main/app/x.ts',
      "import { app } from 'electron';\nexport const x = app;\n",
    );
    expect(errors).toEqual([]);
  });
});
