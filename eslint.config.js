// Lint gate (npm run lint): typescript-eslint's recommended rules, the promise rules a daemon needs (a floating
// promise is an unhandled rejection waiting to happen), and the layer boundaries of the tree as import rules.
// Formatting is Prettier's job (npm run format:check), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** The engines: what the lower layers (common/, dbus/, config/, runtime/) must not import. */
const ENGINES = [
  '../finder/*',
  '../connector/*',
  '../volumes/*',
  '../jobs/*',
  '../schedules/*',
  '../mdns/*',
  '../nvme/tcp/*',
];

/** Imports a folder must not make: [files, patterns, why]. */
const boundaries = [
  [
    ['daemons/nvme/protocol/**/*.ts'],
    [{ group: ['../*', '!../protocol/*'], message: 'nvme/protocol holds pure codecs: it imports nothing above it.' }],
  ],
  [
    ['ctl/**/*.ts'],
    [
      {
        group: [
          '**/daemons/stafd*',
          '**/daemons/stacd*',
          '**/daemons/finder/**',
          '**/daemons/connector/**',
          '**/daemons/jobs/**',
          '**/daemons/mdns/**',
          '**/daemons/udev/**',
          '**/daemons/volumes/*-backend*',
          '**/daemons/volumes/service*',
          '**/daemons/volumes/stacd-storage*',
          '**/daemons/schedules/scheduler*',
          '**/daemons/runtime/**',
        ],
        allowTypeImports: true,
        message:
          'ctl/ talks to the daemons over D-Bus only: import no daemon engine (pure formatting/parsing modules are fine).',
      },
    ],
  ],
  [
    ['daemons/finder/**/*.ts'],
    [
      {
        group: ['../connector/*', '**/daemons/connector/**'],
        message: 'stafd (finder) and stacd (connector) share code through daemons/controllers/, not each other.',
      },
    ],
  ],
  [
    ['daemons/connector/**/*.ts'],
    [
      {
        group: ['../finder/*', '**/daemons/finder/**'],
        message: 'stafd (finder) and stacd (connector) share code through daemons/controllers/, not each other.',
      },
    ],
  ],
  [
    ['daemons/jobs/**/*.ts', 'daemons/schedules/**/*.ts'],
    [
      {
        group: ['../volumes/*', '**/daemons/volumes/**'],
        message:
          'jobs/ and schedules/ are generic engines: stacd wires them to volumes in daemons/volumes/, not the other way.',
      },
    ],
  ],
  [
    ['daemons/dbus/**/*.ts', 'daemons/config/**/*.ts'],
    [
      {
        group: [...ENGINES, '../runtime/*'],
        message: 'dbus/ and config/ sit below the engines and the daemon runtime: they import none of them.',
      },
    ],
  ],
  [
    ['daemons/runtime/**/*.ts'],
    [{ group: ENGINES, message: 'runtime/ (the daemon process) sits below the engines: it imports none of them.' }],
  ],
  [
    ['daemons/common/**/*.ts'],
    [
      {
        group: [...ENGINES, '../dbus/*', '../config/*', '../runtime/*'],
        message: 'common/ holds utilities below every layer: it imports no engine, no dbus/, config/ or runtime/.',
      },
    ],
  ],
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'build/**', '.test-state/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test()/describe() return promises that the runner itself awaits
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      // a variable set once after a closure that reads it was made (late-bound callbacks) cannot be const
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: globals.node },
  },
  ...boundaries.map(([files, patterns]) => ({ files, rules: { 'no-restricted-imports': ['error', { patterns }] } })),
);
