/**
 * `minion-agent spool stats | verify | repair [--data-dir DIR]`.
 *   stats   sizes, counts per class, oldest queued age, cursor, drops, damage found (read-only)
 *   verify  like stats, plus what repair would do; exit code 1 when something is damaged
 *   repair  runs the start-up recovery now (refused while an agent has the spool open) and says what it did
 * Exit codes: 0 fine, 1 damage found (verify), 2 could not run (spool in use, I/O error).
 */
import { formatInspection, formatRecovery, inspectSpool, repairSpool } from '../../agent/spool/tools';

export type SpoolAction = 'stats' | 'verify' | 'repair';

export async function runSpoolCommand(
  args: { action: SpoolAction; dataDir: string },
  out: (line: string) => void,
): Promise<number> {
  try {
    if (args.action === 'repair') {
      const result = await repairSpool(args.dataDir);
      for (const line of formatRecovery(result.recovery)) out(line);
      out('after repair:');
      for (const line of formatInspection(result.after)) out(`  ${line}`);
      return result.after.damaged.length === 0 ? 0 : 1;
    }
    const inspection = await inspectSpool(args.dataDir);
    for (const line of formatInspection(inspection)) out(line);
    if (args.action === 'verify') {
      if (inspection.damaged.length === 0) {
        out('verify: OK');
        return 0;
      }
      out(`verify: ${inspection.damaged.length} damaged segment(s); run "minion-agent spool repair" to fix`);
      return 1;
    }
    return 0;
  } catch (e) {
    out(`spool ${args.action} failed: ${(e as Error).message}`);
    return 2;
  }
}
