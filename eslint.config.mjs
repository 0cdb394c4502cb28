// `npm run lint`: a few rules that catch what the compiler cannot, not a style guide.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const SANDBOX =
  'Workflow code runs in the Temporal sandbox, where Node.js built-ins do not exist and I/O would break ' +
  'replay: move the work into an activity under src/activities/.';
const ACTIVITY_IMPLEMENTATION =
  'Workflow code calls activities through proxyActivities, never directly: import their types only ' +
  "(`import type { Activities } from '../activities'`).";

// builtinModules lists most modules bare (`fs`), which load as `node:fs` too; the `node:`-only ones (node:test,
// node:sea…) are listed with their prefix by newer Node versions and not at all by Node 20.
const builtinSpecifiers = builtinModules.flatMap((name) => (name.startsWith('node:') ? [name] : [name, `node:${name}`]));
const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const listedBuiltin = builtinSpecifiers.map(escapeRegExp).join('|');
const unlistedNodeBuiltin = `^(?!(?:${listedBuiltin})$)node:`;
const anyBuiltin = `^(?:node:.+|${listedBuiltin})$`;
// A relative path with an `activities` segment: from src/workflows/** that is src/activities/ or below.
const activityModule = '^\\.{1,2}/(?:.*/)?activities(?:/.*)?$';
/** An esquery selector for `require('x')` and `import('x')` whose x matches the regex (slashes escaped for esquery). */
const moduleLoadMatching = (regex) => {
  const literal = `/${regex.replace(/\//g, '\\/')}/`;
  return `CallExpression[callee.name='require'][arguments.0.value=${literal}], ImportExpression[source.value=${literal}]`;
};

export default [
  { ignores: ['dist/', 'node_modules/', '.data/', 'test-artifacts/', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    // The promise rules of typescript-eslint's recommended-type-checked set: the rest of that set would mean
    // rewriting working code (mostly `any` from parsed JSON) for little gain.
    rules: {
      // A promise nobody awaits loses its error and its ordering: in a workflow a forgotten `await` on an
      // activity or timer changes what history records; elsewhere it is an unhandled rejection.
      // node:test's top-level test()/describe() register the test and handle its promise themselves.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      // An async callback where a void one is expected (an http handler, an event listener): its rejection
      // reaches no one and, on Node 20, ends the process.
      '@typescript-eslint/no-misused-promises': 'error',
      // `await` on something that is not a promise is almost always a missing call or a wrong type.
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: builtinSpecifiers.map((name) => ({ name, message: SANDBOX })),
          patterns: [
            { regex: unlistedNodeBuiltin, message: SANDBOX },
            { regex: activityModule, message: ACTIVITY_IMPLEMENTATION, allowTypeImports: true },
          ],
        },
      ],
      // The same two rules for `require(…)` and `import(…)`, which no-restricted-imports does not see.
      'no-restricted-syntax': [
        'error',
        {
          selector: moduleLoadMatching(anyBuiltin),
          message: SANDBOX,
        },
        {
          selector: moduleLoadMatching(activityModule),
          message: ACTIVITY_IMPLEMENTATION,
        },
      ],
    },
  },
];
