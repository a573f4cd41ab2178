/** A core that counts starts and stops; `stop` can be slowed down or made to hang. */
export class CountingCore {
  starts = 0;
  stops = 0;
  stopDelayMs = 0;
  hang = false;
  running = false;
  async start(): Promise<void> {
    this.starts++;
    this.running = true;
  }
  async stop(): Promise<void> {
    if (this.hang) return new Promise<void>(() => undefined);
    if (this.stopDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.stopDelayMs));
    this.stops++;
    this.running = false;
  }
}
