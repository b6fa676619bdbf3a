import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The planes talk only through packages/contracts: neither app may import the other. */
const planeBoundary = (other) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          group: [`@mic/${other}`, `@mic/${other}/*`],
          message: `apps talk to ${other} only through HTTP contracts in @mic/contracts`,
        },
        {
          group: [`**/apps/${other}/**`, `../../${other}/**`, `../../../${other}/**`, `../../../../${other}/**`],
          message: `apps talk to ${other} only through HTTP contracts in @mic/contracts`,
        },
      ],
    },
  ],
});

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/data/**', '**/dist/**', '**/migrations/**', 'test-results/**', '.test-data/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/only-throw-error': 'off',
    },
  },
  { files: ['apps/engine/**'], rules: planeBoundary('control') },
  { files: ['apps/control/**'], rules: planeBoundary('engine') },
  {
    files: ['packages/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@mic/control*', '@mic/engine*', '@mic/cli*'], message: 'packages never depend on apps' },
          ],
        },
      ],
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
