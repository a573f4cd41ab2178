import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltBundle } from '../support/built-bundle';

// `npm test` builds before vitest; these check what a newcomer runs right after the build, and fail without it.
const root = resolve(__dirname, '../..');
const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

describe('entry points after the build', () => {
  beforeAll(() =>
    requireBuiltBundle(['dist/cli/minion-agent.js', 'dist/main/main.js', 'dist/renderer/index.html']),
  );

  it('`npx minion-agent --help` runs the bundled CLI', () => {
    const link = join(root, 'node_modules', '.bin', 'minion-agent');
    expect(existsSync(link), '`npm run build` links the bin: run it first').toBe(true);
    expect(realpathSync(link)).toBe(join(root, 'dist', 'cli', 'minion-agent.js'));
    const result = spawnSync('npx', ['--no-install', 'minion-agent', '--help'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Usage: minion-agent/);
    expect(result.stdout).toMatch(/-t, --test/);
  });

  it('`npm start` without an Electron binary explains it in one paragraph and serves the dashboard instead', async () => {
    const home = tempDir('minion-start-home-');
    const child = spawn(process.execPath, [join(root, 'scripts', 'start.mjs'), '--no-build'], {
      cwd: root,
      env: {
        ...process.env,
        HOME: home,
        XDG_CONFIG_HOME: join(home, 'config'),
        XDG_STATE_HOME: join(home, 'state'),
        CONFIG: '',
        ELECTRON_OVERRIDE_DIST_PATH: tempDir('no-electron-'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(
          () => fail(new Error(`no dashboard URL within 20 s; output:\n${output}`)),
          20_000,
        );
        const onData = (chunk: Buffer): void => {
          output += chunk.toString();
          if (/dashboard: http:\/\/127\.0\.0\.1:\d+\/\?token=/.test(output)) {
            clearTimeout(timer);
            done();
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => fail(new Error(`start exited early (${code}); output:\n${output}`)));
      });
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(output).toMatch(/needs the Electron runtime, and it is not installed here/);
    expect(output).toMatch(/npx minion-agent run --ui/);
    expect(output).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/); // no stack trace
  });
});
