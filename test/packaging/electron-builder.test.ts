// Packages the built app with the real electron-builder, offline: a dummy Electron distribution stands in for the
// binary that cannot be downloaded here. It carries Electron's fuse sentinel, so the configured fuses are really
// flipped and checked. The project is staged into a temp dir (a snapshot of dist/, the config, build/ and a
// node_modules link) so a concurrent `npm run build` cannot pull files away mid-packaging.
//
// Each Linux package is built in its own run, as docs/releasing.md says: deb, AppImage, tar.gz. What runs for real:
// electron-builder's packaging (asar, fuses, resources, app-update.yml) and each target's own logic up to its
// external tool — the deb target writes package-type, the AppArmor profile, its after-install script and desktop
// entry, and computes fpm's arguments; the AppImage target writes app-update.yml and its desktop entry; the tar.gz
// target builds the tar. What does not run: fpm and the AppImage toolset (both downloaded from GitHub, unreachable
// here; build-linux-targets.mjs stops right before them through app-builder-lib's `effectiveOptionComputed`), and
// 7za, replaced by gzip for the tar.gz's compression step (sevenza-gzip.sh).
import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
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
    // One Linux package per run: the default run builds the AppImage only (the deb and tar.gz have their own).
    expect(linux.target).toEqual(['AppImage']);
    // The deb links /usr/bin/<executableName>: `minion-agent` is the headless CLI's name.
    expect(linux.executableName).toBe('minion-agent-desktop');
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

interface Captured {
  tool: 'fpm' | 'appimagetool';
  args?: string[];
  afterInstall?: string | null;
  desktopEntry: string | null;
}

interface LinuxRun {
  result: { code: number | null; output: string };
  resources: string;
  appOutDir: string;
  outputDir: string;
  captured: Captured[];
}

describe('electron-builder, one Linux package per run (offline, dummy Electron)', () => {
  let work: string;
  let project: string;
  const runs: Record<'deb' | 'AppImage' | 'tar.gz', LinuxRun> = {} as never;

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
    // Sequential on purpose: these are separate runs, each into its own output folder.
    for (const target of ['deb', 'AppImage', 'tar.gz'] as const) {
      const outputDir = join(work, `release-${target}`);
      const capture = join(work, `${target}.json`);
      const result = await run(
        process.execPath,
        [
          join(ROOT, 'test/packaging/build-linux-targets.mjs'),
          project,
          outputDir,
          electronDist,
          capture,
          target,
        ],
        {
          // As `npm run package` runs it: builder-util switches to hard links when it sees VITEST (fs.js l. 125),
          // and copying extraResources with hard links fails with EEXIST.
          ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST'))),
          ELECTRON_OVERRIDE_DIST_PATH: electronDist,
          CSC_IDENTITY_AUTO_DISCOVERY: 'false',
          ELECTRON_BUILDER_7ZIP_PATH: join(ROOT, 'test/packaging/sevenza-gzip.sh'),
        },
        150_000,
      );
      const appOutDir = join(outputDir, process.arch === 'arm64' ? 'linux-arm64-unpacked' : 'linux-unpacked');
      runs[target] = {
        result,
        outputDir,
        appOutDir,
        resources: join(appOutDir, 'resources'),
        captured: existsSync(capture) ? (JSON.parse(readFileSync(capture, 'utf8')) as Captured[]) : [],
      };
    }
  }, 330_000);

  afterAll(() => {
    if (work != null) rmSync(work, { recursive: true, force: true });
  });

  it('succeeds', () => {
    for (const target of ['deb', 'AppImage', 'tar.gz'] as const) {
      expect(runs[target].result.code, `${target}: ${runs[target].result.output.slice(-4000)}`).toBe(0);
    }
  });

  it('only the deb carries package-type (electron-updater would pick DebUpdater from it)', () => {
    expect(readFileSync(join(runs.deb.resources, 'package-type'), 'utf8')).toBe('deb');
    expect(existsSync(join(runs.AppImage.resources, 'package-type'))).toBe(false);
    expect(existsSync(join(runs['tar.gz'].resources, 'package-type'))).toBe(false);
    // And what the tar.gz really contains, not only the folder it was made from.
    const archive = readdirSync(runs['tar.gz'].outputDir).find((f) => f.endsWith('.tar.gz'));
    expect(archive).toBeDefined();
    const listing = execFileSync('tar', ['tzf', join(runs['tar.gz'].outputDir, archive!)], {
      encoding: 'utf8',
    });
    expect(listing).toMatch(/\/resources\/app\.asar\n/);
    expect(listing).not.toMatch(/package-type/);
  });

  it('names the desktop executable minion-agent-desktop, never minion-agent (the CLI)', () => {
    for (const target of ['deb', 'AppImage', 'tar.gz'] as const) {
      const files = readdirSync(runs[target].appOutDir);
      expect(files).toContain('minion-agent-desktop');
      expect(files).not.toContain('minion-agent');
    }
    const [fpm] = runs.deb.captured;
    expect(fpm?.tool).toBe('fpm');
    // The deb's after-install links /usr/bin/minion-agent-desktop, leaving /usr/bin/minion-agent to the CLI.
    expect(fpm?.afterInstall).toContain(
      "update-alternatives --install '/usr/bin/minion-agent-desktop' 'minion-agent-desktop' '/opt/Minion Agent/minion-agent-desktop'",
    );
    expect(fpm?.afterInstall).not.toMatch(/\/usr\/bin\/minion-agent'/);
    expect(fpm?.args).toContain(`${runs.deb.appOutDir}/=/opt/Minion Agent`);
    expect(fpm?.desktopEntry).toContain('Exec="/opt/Minion Agent/minion-agent-desktop" %U\n');
    expect(fpm?.desktopEntry).toContain('Icon=minion-agent-desktop\n');
  });

  it('the deb brings the AppArmor profile Ubuntu 24.04+ needs for the Chromium sandbox', () => {
    const profile = readFileSync(join(runs.deb.resources, 'apparmor-profile'), 'utf8');
    expect(profile).toContain('profile "minion-agent-desktop" "/opt/Minion Agent/minion-agent-desktop"');
    expect(profile).toContain('userns,');
    expect(runs.deb.captured[0]?.afterInstall).toContain(
      "APPARMOR_PROFILE_TARGET='/etc/apparmor.d/minion-agent-desktop'",
    );
    expect(existsSync(join(runs.AppImage.resources, 'apparmor-profile'))).toBe(false);
  });

  it('the AppImage desktop entry does not force --no-sandbox (AppRun adds it only where needed)', () => {
    const appImage = runs.AppImage.captured.find((c) => c.tool === 'appimagetool');
    expect(appImage?.desktopEntry).toMatch(/^Exec=AppRun %U$/m);
  });

  it('puts the built entries, and nothing else, into app.asar', () => {
    const asar = createRequire(join(ROOT, 'package.json'))('@electron/asar') as AsarModule;
    const archive = join(runs['tar.gz'].resources, 'app.asar');
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
    // The Windows tray icons travel with the PNGs.
    expect(readdirSync(join(runs['tar.gz'].resources, 'icons'))).toContain('tray-connected.ico');
  });

  it('writes resources/app-update.yml pointing at the configured feed', () => {
    for (const target of ['deb', 'AppImage'] as const) {
      const updateConfig = parseYaml(
        readFileSync(join(runs[target].resources, 'app-update.yml'), 'utf8'),
      ) as Record<string, unknown>;
      expect(updateConfig).toMatchObject({ provider: 'generic', url: BUILT_IN_FEED_URL, channel: 'latest' });
      expect(updateConfig.updaterCacheDirName).toBe('minion-agent-updater');
    }
  });

  it('flips the configured fuses in the packaged executable', () => {
    const binary = readFileSync(join(runs.AppImage.appOutDir, 'minion-agent-desktop'));
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
