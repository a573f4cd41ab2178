import type { LogLevel, LogLineView } from '../../src-shared/view-models';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface LogFilter {
  source: 'all' | LogLineView['source'];
  service: string;
  minLevel: LogLevel;
  text: string;
}

export const EMPTY_LOG_FILTER: LogFilter = { source: 'all', service: '', minLevel: 'debug', text: '' };

/** A predicate for one filter; built once per filter change, then run over up to 100k lines. */
export function logPredicate(filter: LogFilter): (line: LogLineView) => boolean {
  const min = LOG_LEVELS.indexOf(filter.minLevel);
  const needle = filter.text.trim().toLowerCase();
  return (line) =>
    (filter.source === 'all' || line.source === filter.source) &&
    (filter.service === '' || line.service === filter.service) &&
    LOG_LEVELS.indexOf(line.level) >= min &&
    (needle === '' ||
      line.message.toLowerCase().includes(needle) ||
      line.service.toLowerCase().includes(needle));
}
