import { describe, expect, it } from 'vitest';
import { commandEnvironment, runShell } from '../../src-main/app/login-env';

describe('commandEnvironment (what server commands see in the desktop app)', () => {
  it("takes PATH from the user's login shell and runs in the home directory", async () => {
    const calls: string[][] = [];
    const env = await commandEnvironment({
      platform: 'darwin',
      env: { SHELL: '/bin/zsh', PATH: '/usr/bin:/bin:/usr/sbin:/sbin' },
      home: '/Users/ada',
      run: async (shell, args) => {
        calls.push([shell, ...args]);
        return 'motd noise\n__MINION_PATH_START__/opt/homebrew/bin:/usr/bin:/bin__MINION_PATH_END__';
      },
    });
    expect(env).toEqual({ cwd: '/Users/ada', env: { PATH: '/opt/homebrew/bin:/usr/bin:/bin' } });
    expect(calls[0]?.slice(0, 4)).toEqual(['/bin/zsh', '-i', '-l', '-c']);
  });

  it('falls back to the usual directories when the shell fails or hangs, and says why', async () => {
    const problems: string[] = [];
    const env = await commandEnvironment({
      platform: 'darwin',
      env: { SHELL: '/bin/zsh', PATH: '/usr/bin:/bin' },
      home: '/Users/ada',
      run: () => Promise.reject(new Error('Command failed: timed out')),
      onProblem: (message) => problems.push(message),
    });
    expect(env.env.PATH).toBe('/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin');
    expect(problems).toEqual(['asking the login shell /bin/zsh for PATH failed: Command failed: timed out']);
  });

  it('Windows keeps its PATH and only sets the working directory', async () => {
    expect(await commandEnvironment({ platform: 'win32', env: {}, home: 'C:\\Users\\ada' })).toEqual({
      cwd: 'C:\\Users\\ada',
      env: {},
    });
  });

  it('works with a real shell', async () => {
    const env = await commandEnvironment({
      platform: 'linux',
      env: { SHELL: '/bin/sh', PATH: process.env.PATH },
      home: '/home/ada',
      run: runShell,
    });
    expect(env.env.PATH).toMatch(/\/usr\/bin|\/bin/);
    expect(env.env.PATH).not.toContain('__MINION');
  });
});
