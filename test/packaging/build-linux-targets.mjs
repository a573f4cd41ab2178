// Runs electron-builder's real Linux packaging for the given targets, offline, and records what its targets hand
// to the external tools they end with. Those tools are downloaded from GitHub on first use and cannot be here:
// fpm (deb) and the AppImage toolset. app-builder-lib stops right before them when `effectiveOptionComputed` returns
// true (FpmTarget.js l. 227, AppImageTarget.js l. 61) — after writing resources/package-type, app-update.yml and the
// AppArmor profile. tar.gz needs 7za only to gzip the tar it built with node's tar module: ELECTRON_BUILDER_7ZIP_PATH
// points at a stand-in that gzips (see sevenza-gzip.sh).
//
// Usage: node build-linux-targets.mjs <projectDir> <outputDir> <electronDist> <capture.json> <target>…
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [projectDir, outputDir, electronDist, capturePath, ...targets] = process.argv.slice(2);
const require = createRequire(join(projectDir, 'package.json'));
const { build, Platform, Arch } = require('electron-builder');
const { parse } = require('yaml');

const config = parse(readFileSync(join(projectDir, 'electron-builder.yml'), 'utf8'));
config.electronDist = electronDist;
config.directories = { ...config.directories, output: outputDir };

const captured = [];
const readIfFile = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

await build({
  projectDir,
  config,
  publish: 'never',
  targets: Platform.LINUX.createTarget(targets, Arch.x64),
  effectiveOptionComputed: async (options) => {
    if (Array.isArray(options)) {
      // FpmTarget: [fpm args, desktop file]; the scripts are temp files, read them now.
      const [args, desktopFile] = options;
      const after = args.indexOf('--after-install');
      captured.push({
        tool: 'fpm',
        args,
        afterInstall: after >= 0 ? readIfFile(args[after + 1]) : null,
        desktopEntry: readIfFile(desktopFile),
      });
    } else if (options && typeof options.desktop === 'string') {
      captured.push({
        tool: 'appimagetool',
        desktopEntry: options.desktop,
        desktopFileName: options.desktopFileName,
      });
    }
    return true;
  },
});
writeFileSync(capturePath, JSON.stringify(captured, null, 2));
