/**
 * What every telemetry collector works with — its context, the state it keeps between ticks, the samples it
 * returns — in a module of its own, so builtins.ts and pick-files.ts both use it without importing each other.
 */
import type { CpuInfo } from 'node:os';

export interface PickFilesState {
  /** Files that failed to parse, by path → mtime, so the failure is logged once, not every interval. */
  failed: Map<string, number>;
}

export interface TelemetrySample {
  name: string;
  values: string[];
  /** Runs after the sink accepted this sample (pick_files moves its file then). */
  commit?: () => Promise<void>;
}

export interface CollectorContext {
  platform: NodeJS.Platform;
  /** `/proc` normally; tests point it at fixtures. */
  procRoot: string;
  /** Runs `df -Pk` (replaceable in tests). */
  runDf: () => Promise<string>;
  /** Per-collector memory between ticks (cpu and network deltas, pick_files failures). */
  state: CollectorState;
  log: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  now: () => number;
  /** Largest sample the sink takes; list-shaped JSON payloads are split into several samples to fit. */
  maxSampleBytes: number;
  /** Per-core CPU times; `os.cpus()` unless replaced (tests). */
  readCpus?: () => CpuInfo[];
}

export interface CollectorState {
  cpu?: { idle: number; total: number };
  network?: { at: number; counters: Map<string, { rx: number; tx: number }> };
  pickFiles: Map<string, PickFilesState>;
}

export function newCollectorState(): CollectorState {
  return { pickFiles: new Map() };
}
