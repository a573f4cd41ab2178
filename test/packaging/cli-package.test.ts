// The headless CLI on servers is installed from this npm package (`npm install -g`, or the tarball `npm pack`
// makes), not from the desktop packages: their executable is the Electron app (minion-agent-desktop), which cannot
// run Node code with the runAsNode fuse off. This checks the tarball carries a self-contained CLI that runs on plain
// Node, and that the systemd unit starts that command.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('the systemd unit starts that command, not the desktop app', () => {
    const unit = readFileSync(join(ROOT, 'resources/systemd/minion-agent.service'), 'utf8');
    const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1];
    expect(execStart).toBe('/usr/bin/env minion-agent run --log-format json');
    const command = execStart!.split(' ')[1]!;
    expect(Object.keys(pkg.bin)).toContain(command);
    expect(unit).not.toMatch(/minion-agent-desktop\s+run/);
  });

  it('the systemd unit caps glibc malloc arenas (V8 worker threads keep one each: docs/performance.md, round 5)', () => {
    const unit = readFileSync(join(ROOT, 'resources/systemd/minion-agent.service'), 'utf8');
    expect(unit).toMatch(/^Environment=MALLOC_ARENA_MAX=2$/m);
  });
});
