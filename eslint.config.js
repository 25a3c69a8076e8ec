// Lint: typescript-eslint's recommended rules on every TypeScript file, plus the layering rule of
// docs/architecture.md ("The layering rules"): core/ never imports sinks/ or plugins/, and a sink never imports another sink.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const sinks = ['elasticsearch', 'redis', 'http'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'examples/*/node_modules/**', '.data/**', '.tunnel/**', 'test-results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/sinks/**', '**/plugins/**'], message: 'core/ never imports sinks/ or plugins/ (docs/architecture.md)' }] },
      ],
    },
  },
  ...sinks.map((sink) => ({
    files: [`sinks/${sink}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: sinks
            .filter((other) => other !== sink)
            .map((other) => ({ group: [`**/${other}/**`, `../${other}/*`], message: 'a sink never imports another sink (docs/architecture.md)' })),
        },
      ],
    },
  })),
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
  },
);
