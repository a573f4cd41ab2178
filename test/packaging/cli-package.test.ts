// The headless CLI on servers is installed from this npm package (`npm install -g`, or the tarball `npm pack`
// makes), not from the desktop packages: their executable is the Electron app (minion-agent-desktop), which cannot
// run Node code with the runAsNode fuse off. This checks the tarball carries a self-contained CLI that runs on plain
// Node, and that the systemd unit starts that command.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  engines: { node: string };
};

let work: string;
let packed: string[];

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/cli/minion-agent.js'))) {
    execFileSync('npm', ['run', 'build', '--', '--quiet'], { cwd: ROOT, timeout: 180_000, stdio: 'ignore' });
  }
  work = mkdtempSync(join(tmpdir(), 'minion-npm-pack-'));
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const [info] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = info!.files.map((f) => f.path);
  execFileSync('tar', ['xzf', join(work, info!.filename), '-C', work]);
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the headless CLI as an npm package', () => {
  it('packs the CLI bundle behind the `minion-agent` command, and no sources', () => {
    expect(pkg.bin).toEqual({ 'minion-agent': 'dist/cli/minion-agent.js' });
    expect(pkg.engines.node).toBe('>=20');
    expect(packed).toEqual(
      expect.arrayContaining(['dist/cli/minion-agent.js', 'resources/systemd/minion-agent.service']),
    );
    expect(packed.filter((f) => /^(src-|test\/|node_modules\/)/.test(f))).toEqual([]);
  });

  it('runs from the unpacked tarball on plain Node, with no node_modules next to it', () => {
    const cli = join(work, 'package', 'dist/cli/minion-agent.js');
    expect(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(existsSync(join(work, 'package', 'node_modules'))).toBe(false);
    const result = spawnSync(process.execPath, [cli, '--version'], {
      cwd: work,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(pkg.version);
  });

  it('the systemd unit starts that command, not the desktop app, on node with the service runtime flags', () => {
    const unit = readFileSync(join(ROOT, 'resources/systemd/minion-agent.service'), 'utf8');
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1];
    const script = /^\/bin\/sh -c '([^']*)'$/.exec(execStart ?? '')?.[1];
    expect(script, execStart).toBeDefined();
    // systemd makes `$$` a literal `$` before the shell sees the line (a bare `$` would be systemd's to expand).
    expect(script).toContain('"$$(command -v minion-agent)"');
    const command = script!.replaceAll('$$', '$');
    expect(command).toBe(
      'exec node --max-semi-space-size=2 --no-concurrent-recompilation --no-turbo-inlining ' +
        '"$(command -v minion-agent)" run --log-format json',
    );
    expect(Object.keys(pkg.bin)).toContain('minion-agent');
    expect(unit).not.toMatch(/minion-agent-desktop\s+run/);

    // As systemd runs it: sh, with the installed command (a link into the unpacked package) and node on PATH; asked
    // for the version instead of `run`. Node refuses an unknown flag (exit 9), and the script must be found.
    const bin = mkdtempSync(join(tmpdir(), 'minion-unit-bin-'));
    try {
      symlinkSync(join(work, 'package', 'dist/cli/minion-agent.js'), join(bin, 'minion-agent'));
      const result = spawnSync('/bin/sh', ['-c', command.replace(/ run --log-format json$/, ' --version')], {
        env: { PATH: `${bin}:${dirname(process.execPath)}` },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toContain(pkg.version);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('the systemd unit caps glibc malloc arenas (V8 worker threads keep one each: docs/performance.md, round 5)', () => {
    const unit = readFileSync(join(ROOT, 'resources/systemd/minion-agent.service'), 'utf8');
    expect(unit).toMatch(/^Environment=MALLOC_ARENA_MAX=2$/m);
  });
});
