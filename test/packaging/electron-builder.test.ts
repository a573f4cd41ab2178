// Packages the built app with the real electron-builder (`--dir`, offline): a dummy Electron distribution stands in
// for the binary that cannot be downloaded here. It carries Electron's fuse sentinel, so the configured fuses are
// really flipped and checked. The project is staged into a temp dir (a snapshot of dist/, the config, build/ and a
// node_modules link) so a concurrent `npm run build` cannot pull files away mid-packaging.
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { BUILT_IN_FEED_URL } from '../../src-main/updates/feed';
import { requireBuiltBundle } from '../support/built-bundle';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
// Electron's own defaults, in wire order: RunAsNode, CookieEncryption, NodeOptions, NodeCliInspect,
// EmbeddedAsarIntegrity, OnlyLoadAppFromAsar, BrowserV8Snapshot, GrantFileProtocolExtraPrivileges.
const STOCK_FUSES = '10110001';
const BUILT_ENTRIES = [
  'dist/main/main.js',
  'dist/preload/preload.js',
  'dist/renderer/index.html',
  'dist/cli/minion-agent.js',
];

interface AsarModule {
  listPackage(archive: string, options?: unknown): string[];
  extractFile(archive: string, filename: string): Buffer;
}

const builderConfig = parseYaml(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as Record<
  string,
  unknown
>;

describe('electron-builder.yml', () => {
  it('packages only the bundle, with the feed, fuses, targets and names the release needs', () => {
    expect(builderConfig.appId).toBe('io.minion.agent');
    expect(builderConfig.productName).toBe('Minion Agent');
    expect(builderConfig.files).toEqual(['dist/**/*', 'package.json', '!**/node_modules/**/*']);
    expect(builderConfig.extraMetadata).toEqual({ main: 'dist/main/main.js' });
    expect(builderConfig.publish).toMatchObject({ provider: 'generic', url: BUILT_IN_FEED_URL });
    expect(BUILT_IN_FEED_URL.startsWith('https://')).toBe(true);
    expect(builderConfig.artifactName).toMatch(/\$\{version\}.*\$\{arch\}/);
    expect(builderConfig.electronFuses).toMatchObject({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
    const linux = builderConfig.linux as Record<string, unknown>;
    expect(linux.target).toEqual(['AppImage', 'deb', 'tar.gz']);
    expect((linux.desktop as { entry: Record<string, string> }).entry.Categories).toContain(
      'Utility;System;',
    );
    const mac = builderConfig.mac as Record<string, unknown>;
    expect(mac.target).toEqual(['dmg', 'zip']);
    expect(mac.extendInfo).toEqual({ LSUIElement: true });
    expect(mac.hardenedRuntime).toBe(true);
    expect(existsSync(join(ROOT, mac.entitlements as string))).toBe(true);
    const win = builderConfig.win as Record<string, unknown>;
    expect(win.target).toEqual(['nsis']);
    expect((win.signtoolOptions as { publisherName: string[] }).publisherName.length).toBeGreaterThan(0);
    expect(
      readFileSync(join(ROOT, linux.icon as string))
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');
  });
});

describe('electron-builder --dir (offline, dummy Electron)', () => {
  let work: string;
  let appOutDir: string;
  let project: string;
  let result: { code: number | null; output: string };

  beforeAll(async () => {
    requireBuiltBundle(BUILT_ENTRIES);
    work = mkdtempSync(join(tmpdir(), 'minion-packaging-'));
    project = join(work, 'project');
    const electronDist = join(work, 'electron-dist');
    mkdirSync(project);
    mkdirSync(electronDist);
    for (const entry of ['package.json', 'electron-builder.yml', 'build', 'dist']) {
      cpSync(join(ROOT, entry), join(project, entry), { recursive: true });
    }
    if (existsSync(join(ROOT, 'resources')))
      cpSync(join(ROOT, 'resources'), join(project, 'resources'), { recursive: true });
    // The real dependency tree, so electron-builder's production-dependency collection runs as in the repo.
    symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'), 'dir');
    writeFileSync(
      join(electronDist, 'electron'),
      Buffer.concat([
        Buffer.from('#!/bin/sh\necho "dummy electron"\n# '),
        Buffer.from(FUSE_SENTINEL),
        Buffer.from([1, STOCK_FUSES.length]),
        Buffer.from(STOCK_FUSES),
        Buffer.from('\n'),
      ]),
      { mode: 0o755 },
    );
    const output = join(work, 'release');
    result = await run(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'electron-builder', 'cli.js'),
        '--linux',
        '--dir',
        '--publish',
        'never',
        '--projectDir',
        project,
        '--config',
        'electron-builder.yml',
        `-c.electronDist=${electronDist}`,
        `-c.directories.output=${output}`,
      ],
      { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: electronDist, CSC_IDENTITY_AUTO_DISCOVERY: 'false' },
      150_000,
    );
    appOutDir = join(output, process.arch === 'arm64' ? 'linux-arm64-unpacked' : 'linux-unpacked');
  }, 330_000);

  afterAll(() => {
    if (work != null) rmSync(work, { recursive: true, force: true });
  });

  it('succeeds', () => {
    expect(result.code, result.output.slice(-4000)).toBe(0);
  });

  it('puts the built entries, and nothing else, into app.asar', () => {
    const asar = createRequire(join(ROOT, 'package.json'))('@electron/asar') as AsarModule;
    const archive = join(appOutDir, 'resources', 'app.asar');
    const files = asar.listPackage(archive).map((f) => f.replace(/^[/\\]/, '').replaceAll('\\', '/'));
    for (const entry of BUILT_ENTRIES) expect(files).toContain(entry);
    expect(files).toContain('package.json');
    expect(
      files.filter((f) => f.startsWith('node_modules') || f.startsWith('src-') || f.startsWith('test')),
    ).toEqual([]);
    expect(
      asar.extractFile(archive, 'dist/main/main.js').equals(readFileSync(join(project, 'dist/main/main.js'))),
    ).toBe(true);
    const packagedJson = JSON.parse(asar.extractFile(archive, 'package.json').toString('utf8')) as Record<
      string,
      unknown
    >;
    expect(packagedJson.main).toBe('dist/main/main.js');
    expect(packagedJson.version).toBe(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
  });

  it('writes resources/app-update.yml pointing at the configured feed', () => {
    const updateConfig = parseYaml(
      readFileSync(join(appOutDir, 'resources', 'app-update.yml'), 'utf8'),
    ) as Record<string, unknown>;
    expect(updateConfig).toMatchObject({ provider: 'generic', url: BUILT_IN_FEED_URL, channel: 'latest' });
    expect(updateConfig.updaterCacheDirName).toBe('minion-agent-updater');
  });

  it('flips the configured fuses in the packaged executable', () => {
    const binary = readFileSync(join(appOutDir, 'minion-agent'));
    const at = binary.indexOf(FUSE_SENTINEL) + FUSE_SENTINEL.length;
    expect(binary[at]).toBe(1); // fuse wire version
    // runAsNode off, cookie encryption on, NODE_OPTIONS off, --inspect off, asar integrity on, asar only on,
    // V8 snapshot untouched, file:// privileges off.
    expect(binary.subarray(at + 2, at + 2 + STOCK_FUSES.length).toString()).toBe('01001100');
  });
});

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
