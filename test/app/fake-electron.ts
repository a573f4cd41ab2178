/** Small fakes of Electron objects for the shell's unit tests (the Electron binary cannot run in CI). */
import { EventEmitter } from 'node:events';

export class FakeEvent {
  defaultPrevented = false;
  constructor(readonly url = '') {}
  preventDefault(): void {
    this.defaultPrevented = true;
  }
}

let nextId = 1;

export class FakeWindow extends EventEmitter {
  visible = false;
  destroyed = false;
  minimized = false;
  position: [number, number] | null = null;
  centred = 0;
  focused = 0;
  loaded: string[] = [];
  sent: Array<[string, unknown]> = [];
  webContents = {
    id: nextId++,
    send: (channel: string, payload: unknown) => void this.sent.push([channel, payload]),
    isDestroyed: () => this.destroyed,
  };
  constructor(readonly options: unknown) {
    super();
  }
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  focus(): void {
    this.focused++;
  }
  isVisible(): boolean {
    return this.visible;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  isMinimized(): boolean {
    return this.minimized;
  }
  restore(): void {
    this.minimized = false;
  }
  setPosition(x: number, y: number): void {
    this.position = [x, y];
  }
  getSize(): number[] {
    return [420, 640];
  }
  center(): void {
    this.centred++;
  }
  async loadURL(url: string): Promise<void> {
    this.loaded.push(url);
  }
  /** Simulates the user closing the window; returns whether it really closed. */
  userClose(): boolean {
    const event = new FakeEvent();
    this.emit('close', event);
    if (event.defaultPrevented) return false;
    this.destroyed = true;
    this.visible = false;
    this.emit('closed');
    return true;
  }
}
