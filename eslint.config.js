// One linter for the whole repository: ESLint's and typescript-eslint's recommended rules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'packages/sample-feed/feed/**',
      '.tap/**',
      'coverage/**',
      'data/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // No import cycles in the TypeScript sources: a module that needs another's types while
    // that one needs its values is a type kept in the wrong module. Type-only imports do not
    // count here (the rule skips them, with no option to count them): test/type-import-cycles.test.ts
    // finds a cycle only they close. The node resolver maps the '.js' spelling of an
    // import onto the '.ts' file; without following symlinks, another workspace package
    // resolves under node_modules, is external and is skipped (tsc -b's project references
    // already forbid cycles between packages).
    files: ['packages/*/src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.js', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.js'] },
          symlinks: false,
        }),
      ],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    // The status page's plain ES modules run in the browser, not in Node.
    files: ['packages/staging-server/status-page/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
