/** Turns updater errors (electron-updater / HTTP / checksum texts) into a sentence and a next step. */
export function explainUpdateError(error: string): { explanation: string; hint: string } {
  const e = error.toLowerCase();
  if (/enotfound|eai_again|getaddrinfo/.test(e))
    return {
      explanation: 'The update feed’s host name could not be resolved.',
      hint: 'Check the feed URL and this machine’s DNS/network.',
    };
  if (/econnrefused|econnreset|etimedout|socket hang up|network/.test(e))
    return {
      explanation: 'The update feed could not be reached.',
      hint: 'Check the network or proxy; the agent retries on its next check.',
    };
  if (/\b404\b|not found|cannot find channel|latest.*\.yml/.test(e))
    return {
      explanation: 'The feed has no release information for this platform or channel.',
      hint: 'Check the feed URL and the update channel in Settings.',
    };
  if (/sha512|checksum|integrity/.test(e))
    return {
      explanation: 'The downloaded file did not match its published checksum, so it was discarded.',
      hint: 'Try again; if it repeats, the release on the feed is broken.',
    };
  if (/signature|code sign|not signed|publisher/.test(e))
    return {
      explanation: 'The update’s signature could not be verified, so it was not installed.',
      hint: 'Do not install it manually; report it to whoever publishes the releases.',
    };
  if (/enospc|no space/.test(e))
    return {
      explanation: 'There is not enough disk space for the download.',
      hint: 'Free some space and try again.',
    };
  if (/eacces|eperm|permission/.test(e))
    return {
      explanation: 'The update could not be written or installed because of file permissions.',
      hint: 'Install the update as a user allowed to change the application.',
    };
  if (/downgrade/.test(e))
    return {
      explanation: 'The feed offers an older version than the one installed.',
      hint: 'Enable downgrades only if you mean it.',
    };
  return { explanation: 'The update failed.', hint: 'See the details below; the next check tries again.' };
}
