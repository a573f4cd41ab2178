// `npm start`: build, then launch the desktop app. Where no Electron binary can be had (CI machines, servers,
// this project's build box), explain that in one paragraph and fall back to the headless dashboard.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const electronDir = join(root, 'node_modules', 'electron');
const args = process.argv.slice(2);

function run(cmd, cmdArgs, opts = {}) {
  return spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', ...opts });
}

function electronExecutable() {
  const pathFile = join(electronDir, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : 'electron';
  if (process.env.ELECTRON_OVERRIDE_DIST_PATH) {
    const candidate = join(process.env.ELECTRON_OVERRIDE_DIST_PATH, relative);
    return existsSync(candidate) ? candidate : null;
  }
  const candidate = join(electronDir, 'dist', relative);
  return existsSync(pathFile) && existsSync(candidate) ? candidate : null;
}

function tryDownloadElectron() {
  if (!existsSync(join(electronDir, 'install.js'))) return false;
  console.log('Electron binary not found; trying to download it (one time)…');
  const result = spawnSync(process.execPath, [join(electronDir, 'install.js')], {
    cwd: electronDir,
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 120_000,
  });
  return result.status === 0;
}

if (!args.includes('--no-build')) {
  const build = run(process.execPath, [join(root, 'scripts', 'build.mjs'), '--quiet']);
  if (build.status !== 0) process.exit(build.status ?? 1);
}

// With ELECTRON_OVERRIDE_DIST_PATH the caller chose the runtime; downloading into node_modules would not help.
const electron =
  electronExecutable() ??
  (!process.env.ELECTRON_OVERRIDE_DIST_PATH && tryDownloadElectron() ? electronExecutable() : null);
if (electron) {
  const child = spawn(electron, [root, ...args.filter((a) => a !== '--no-build')], {
    cwd: root,
    stdio: 'inherit',
  });
  child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
} else {
  console.log(`
Minion Agent's desktop app needs the Electron runtime, and it is not installed here: its binary is downloaded on
first use from Electron's release server, which this machine cannot reach. On a workstation with internet access,
run \`npx install-electron\` (or simply \`npm start\` again) and the tray app starts. Everything else works without
it: the agent itself runs headless as \`npx minion-agent run\`, and the same dashboard is served to your browser by
\`npx minion-agent run --ui\` (127.0.0.1 only, with a one-time token in the printed URL). Starting that now; press
Ctrl-C to stop.
`);
  const cli = join(root, 'dist', 'cli', 'minion-agent.js');
  const child = spawn(process.execPath, [cli, 'run', '--ui', ...args.filter((a) => a !== '--no-build')], {
    cwd: root,
    stdio: 'inherit',
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(signal ? 0 : (code ?? 0)));
}
