/** Telemetry: wire-compatible built-ins, shell-run custom telemetry, and the drift-free scheduler. */
export * from './builtins';
export * from './custom';
export * from './pick-files';
export * from './scheduler';
