/** At start, the original agent's undelivered spool files are imported into the spool (`spool.import_legacy`). */
import { type AgentLog } from '../agent-log';
import { importLegacySpool } from '../spool/legacy-import';
import { type Spool } from '../spool/spool';

export async function importLegacy(
  log: AgentLog,
  legacySpoolDir: string | undefined,
  spool: Spool,
  groupId: string,
): Promise<void> {
  if (groupId.trim() === '') return;
  try {
    const report = await importLegacySpool(spool, {
      groupId,
      tmpDir: legacySpoolDir,
      onProblem: (m) => log.warn(`spool: ${m}`),
    });
    for (const file of report.files) {
      // A failed import was already reported through onProblem; a file still in use was not.
      if (!file.removed && file.skippedBecause && !file.skippedBecause.startsWith('import failed'))
        log.warn(`spool: legacy spool ${file.path} left in place: ${file.skippedBecause}`);
      else if (file.removed)
        log.info(
          `spool: imported ${file.imported} frame(s) from the original agent's spool ${file.path}` +
            (file.skippedControl > 0 ? ` (${file.skippedControl} heartbeat/auth frame(s) skipped)` : '') +
            (file.droppedByOverflow > 0 ? `, ${file.droppedByOverflow} dropped: spool full` : ''),
        );
    }
  } catch (err) {
    // The old files stay where they are; the next start tries again.
    log.error('spool: importing the legacy spool failed', err);
  }
}
