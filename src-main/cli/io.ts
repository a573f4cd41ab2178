/**
 * What CLI commands touch of the outside world, injectable so tests run them in-process.
 */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Registers shutdown signals; returns a function that unregisters them. */
  onSignal(signals: NodeJS.Signals[], handler: (signal: NodeJS.Signals) => void): () => void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  env: process.env,
  onSignal(signals, handler) {
    for (const s of signals) process.on(s, handler);
    return () => {
      for (const s of signals) process.off(s, handler);
    };
  },
};

/** Exit codes: 0 ok, 1 failed at run time (server unreachable, command failed…), 2 bad usage or config. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
