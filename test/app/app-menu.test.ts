import type { MenuItemConstructorOptions } from 'electron';
import { describe, expect, it } from 'vitest';
import { applicationMenuTemplate } from '../../src-main/app/app-menu';

function flatten(items: MenuItemConstructorOptions[]): MenuItemConstructorOptions[] {
  return items.flatMap((item) => [
    item,
    ...(Array.isArray(item.submenu) ? flatten(item.submenu as MenuItemConstructorOptions[]) : []),
  ]);
}

describe('applicationMenuTemplate', () => {
  it.each(['linux', 'win32', 'darwin'] as const)(
    '%s: Quit is reachable from the window, no reload or DevTools',
    (platform) => {
      const calls: string[] = [];
      const items = flatten(
        applicationMenuTemplate({
          platform,
          productName: 'Minion Agent',
          quit: () => calls.push('quit'),
          closeWindow: () => calls.push('close'),
        }),
      );
      const quit = items.find((item) => item.accelerator === 'CmdOrCtrl+Q');
      expect(quit?.label).toMatch(/Quit Minion Agent$/);
      (quit?.click as () => void)();
      expect(calls).toEqual(['quit']);
      const roles = items.map((item) => item.role).filter(Boolean);
      expect(roles).toEqual(expect.arrayContaining(['copy', 'paste', 'selectAll']));
      for (const role of ['reload', 'forceReload', 'toggleDevTools', 'viewMenu'] as const)
        expect(roles).not.toContain(role);
    },
  );
});
