// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

/** The agent core must run headless (CLI, servers, CI): Electron may only be imported by the thin app layer. */
const noElectron = {
  'no-restricted-imports': [
    'error',
    {
      paths: [
        {
          name: 'electron',
          message: 'The agent core is plain Node: wire Electron in src-main/app/ instead.',
        },
      ],
      patterns: [
        {
          group: ['electron/*', 'electron-*'],
          message: 'The agent core is plain Node: no Electron packages.',
        },
      ],
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'release/**',
      'node_modules/**',
      '.tools/**',
      'test/e2e/artifacts/**',
      'coverage/**',
      'reports/**',
      '.stryker-tmp*/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    files: [
      'src-main/agent/**',
      'src-main/sandbox/**',
      'src-main/cli/**',
      'src-main/bridge/**',
      'src-shared/**',
    ],
    rules: noElectron,
  },
  {
    files: ['src-renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: { ...reactHooks.configs.recommended.rules, ...noElectron },
  },
);
