/**
 * Commands and hooks that live in other modules (connection test, REPL, sandbox, spool tools, updater, web
 * dashboard). The entry point plugs them in; `buildProgram` only knows these signatures, so it stays testable.
 */
import { type Command } from 'commander';
import { type AgentCore, type AgentUpdaterHook } from '../agent/agent';
import { type CliIo } from './io';

/** A started web dashboard: the first link, lines to print after it, and how to stop it. */
export interface StartedUi {
  url: string;
  notices?: string[];
  close: () => Promise<void>;
}

export interface CliExtensions {
  /** `test` / `-t`: connect and authenticate once; resolves to the exit code. */
  test?: (configPath: string, io: CliIo) => Promise<number>;
  /** `upgrade` / `-u` / `version --check`. */
  upgrade?: (options: { configPath: string | null; checkOnly: boolean }, io: CliIo) => Promise<number>;
  /** The server's `internal upgrade` handler for a running agent. */
  updater?: (configPath: string) => AgentUpdaterHook | undefined;
  /** `run --ui`: starts the web dashboard for a running core. */
  startUi?: (core: AgentCore, port: number | undefined) => Promise<StartedUi>;
  /** Extra subcommands (repl, sandbox, spool …). */
  register?: Array<(program: Command, setExitCode: (code: number) => void, io: CliIo) => void>;
}
