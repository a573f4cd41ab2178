/**
 * The application menu. Without one Electron installs its default menu (File/Edit/View with Reload and Toggle
 * Developer Tools), which Alt reveals on Windows and Linux (the window hides its menu bar). `null` would remove it
 * but also the Edit roles macOS needs for copy and paste in text fields, and the window would offer no Quit. So a
 * minimal menu: Quit (Ctrl+Q / Cmd+Q, and under File with Alt) — the tray can be hidden (Windows 11 overflow, GNOME
 * without a status area) — plus Edit, and nothing that reloads the page or opens DevTools.
 */
import type { MenuItemConstructorOptions } from 'electron';

export function applicationMenuTemplate(options: {
  platform: NodeJS.Platform;
  productName: string;
  quit: () => void;
  closeWindow: () => void;
}): MenuItemConstructorOptions[] {
  const quit: MenuItemConstructorOptions = {
    label: options.platform === 'darwin' ? `Quit ${options.productName}` : `&Quit ${options.productName}`,
    accelerator: 'CmdOrCtrl+Q',
    click: () => options.quit(),
  };
  const close: MenuItemConstructorOptions = {
    label: 'Close Window',
    accelerator: 'CmdOrCtrl+W',
    click: () => options.closeWindow(),
  };
  const edit: MenuItemConstructorOptions = {
    label: options.platform === 'darwin' ? 'Edit' : '&Edit',
    submenu: [
      { role: 'undo' },
      { role: 'redo' },
      { type: 'separator' },
      { role: 'cut' },
      { role: 'copy' },
      { role: 'paste' },
      { role: 'selectAll' },
    ],
  };
  if (options.platform === 'darwin') {
    // LSUIElement: no menu bar is shown, but its key equivalents work while the window has focus.
    return [
      { label: options.productName, submenu: [{ role: 'hide' }, { type: 'separator' }, quit] },
      { label: 'File', submenu: [close] },
      edit,
    ];
  }
  return [{ label: '&File', submenu: [close, { type: 'separator' }, quit] }, edit];
}
