// `npm run bench`: runs every bench/*.bench.ts (or those whose names contain the CLI arguments) one after the
// other and prints each ratio next to its target. Speed and memory targets live here, never in unit tests.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchResult } from './types.ts';

const filters = process.argv.slice(2);
const dir = import.meta.dirname;
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

const rows: Array<BenchResult & { file: string }> = [];
let failures = 0;
for (const file of files) {
  process.stdout.write(`\n▶ ${file}\n`);
  try {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as { run: () => Promise<BenchResult[]> };
    for (const result of await mod.run()) {
      rows.push({ ...result, file });
      console.log(`  ${format(result)}`);
    }
  } catch (error) {
    failures++;
    console.error(`  ✗ ${file} failed:`, error);
  }
}

function format(r: BenchResult): string {
  if (r.ratio === undefined) return `${r.name}: ${r.details}`;
  const met =
    r.target === undefined
      ? ''
      : (r.lowerIsBetter ? r.ratio <= r.target : r.ratio >= r.target)
        ? ' ✓'
        : ' ✗ below target';
  const target = r.target === undefined ? '' : ` (target ${r.lowerIsBetter ? '≤' : '≥'}${r.target})`;
  return `${r.name}: ${r.ratio.toFixed(2)}×${target}${met} — ${r.details}`;
}

console.log('\nSummary');
for (const r of rows) console.log(`  ${format(r)}`);
// Exit explicitly: Node 20's exit-time handle cleanup was seen spinning a core after the reconnect and delivery
// benches had closed everything (FreeEnvironment → CleanupHandles in gdb; no JS running).
process.exit(failures > 0 ? 1 : 0);
