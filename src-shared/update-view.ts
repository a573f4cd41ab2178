import type { UpdateView } from './view-models';

/**
 * An update view before anything is known: no check done, nothing available or downloading, no error. The one
 * place that lists every field, so a field added to UpdateView cannot be forgotten by one of the shells.
 */
export function blankUpdateView(
  init: Pick<UpdateView, 'state' | 'currentVersion' | 'policy'> & Partial<UpdateView>,
): UpdateView {
  return {
    availableVersion: null,
    releaseNotes: null,
    sizeBytes: null,
    percent: null,
    bytesPerSecond: null,
    transferred: null,
    lastCheckAt: null,
    error: null,
    legacyAnnouncedVersion: null,
    installHint: null,
    ...init,
  };
}
