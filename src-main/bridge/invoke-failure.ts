/**
 * An error an invoke handler throws on purpose, carrying a message meant for people. In a module of its own so
 * callers that only throw it (the CLI wiring of `run`) do not load the handlers, their request schemas and zod's
 * chained API at startup.
 */
export class InvokeFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvokeFailure';
  }
}
