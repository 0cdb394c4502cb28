import path from 'node:path';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint, type Linter } from 'eslint';

const ROOT = path.resolve(__dirname, '..');
// Files that do not exist: the code is linted as if it were there, with the rules of eslint.config.mjs.
const WORKFLOW_FILE = 'src/workflows/sandbox-probe.ts';
const ACTIVITY_FILE = 'src/activities/sandbox-probe.ts';
const CLI_FILE = 'src/cli/sandbox-probe.ts';

let eslint: ESLint;

before(() => {
  eslint = new ESLint({
    cwd: ROOT,
    // Type-aware rules need the file in a TypeScript project; tsconfig.json only lists files on disk, so
    // these three get TypeScript's default project. The rules are the project's, unchanged.
    overrideConfig: {
      languageOptions: { parserOptions: { projectService: { allowDefaultProject: [WORKFLOW_FILE, ACTIVITY_FILE, CLI_FILE] } } },
    },
  });
});

async function lint(filePath: string, code: string): Promise<Linter.LintMessage[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, filePath) });
  const fatal = result!.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], 'the probe must parse');
  return result!.messages;
}

function describeMessages(messages: Linter.LintMessage[]): string {
  return messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`).join('\n') || '(no findings)';
}

/** Asserts exactly one finding, of this rule, whose message says this, on the given line. */
function assertOneFinding(messages: Linter.LintMessage[], rule: string, message: RegExp, line = 1): void {
  assert.equal(messages.length, 1, describeMessages(messages));
  assert.equal(messages[0]!.ruleId, rule, describeMessages(messages));
  assert.equal(messages[0]!.severity, 2, 'an error, not a warning');
  assert.equal(messages[0]!.line, line);
  assert.match(messages[0]!.message, message);
}

const SANDBOX = /Temporal sandbox.*activity under src\/activities/;
const ACTIVITY = /proxyActivities.*import type/;

describe('workflow code may not import Node built-ins or activity implementations', () => {
  const forbidden: Array<[string, string, RegExp]> = [
    ['node:fs', `import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n`, SANDBOX],
    ['fs', `import { readFileSync } from 'fs';\nexport const read = readFileSync;\n`, SANDBOX],
    ['fs/promises', `import { readFile } from 'fs/promises';\nexport const read = readFile;\n`, SANDBOX],
    ['node:test (not in builtinModules)', `import { mock } from 'node:test';\nexport const m = mock;\n`, SANDBOX],
    ['an activity implementation', `import { buildActivity } from '../activities/build';\nexport const b = buildActivity;\n`, ACTIVITY],
    ['the activities index as values', `import * as activities from '../activities';\nexport const a = activities;\n`, ACTIVITY],
    ['a re-export of an activity', `export { buildActivity } from '../activities/build';\n`, ACTIVITY],
  ];
  for (const [what, code, message] of forbidden) {
    test(`${what} is an error under src/workflows/`, async () => {
      assertOneFinding(await lint(WORKFLOW_FILE, code), '@typescript-eslint/no-restricted-imports', message);
    });
  }

  test('require() and import() of the same are errors too', async () => {
    const messages = await lint(
      WORKFLOW_FILE,
      `export const fs = require('fs') as unknown;\nexport const build = require('../activities/build') as unknown;\nexport const os = import('node:os');\n`,
    );
    assert.deepEqual(
      messages.map((m) => [m.line, m.ruleId]),
      [
        [1, 'no-restricted-syntax'],
        [2, 'no-restricted-syntax'],
        [3, 'no-restricted-syntax'],
      ],
      describeMessages(messages),
    );
    assert.match(messages[0]!.message, SANDBOX);
    assert.match(messages[1]!.message, ACTIVITY);
  });

  test('the type-only import the workflow uses, and SDK and project imports, are fine', async () => {
    const messages = await lint(
      WORKFLOW_FILE,
      [
        `import type { Activities } from '../activities';`,
        `import { type CheckResult } from '../activities/pre-checks';`,
        `import { proxyActivities } from '@temporalio/workflow';`,
        `import { NON_RETRYABLE_TYPES } from '../errors';`,
        `export const activities = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });`,
        `export type { CheckResult };`,
        `export const types = NON_RETRYABLE_TYPES;`,
        ``,
      ].join('\n'),
    );
    assert.deepEqual(messages, [], describeMessages(messages));
  });

  test('the same imports under src/activities/ are fine', async () => {
    const code = [
      `import { readFileSync } from 'node:fs';`,
      `import { readFile } from 'fs/promises';`,
      `import { buildActivity } from '../activities/build';`,
      `export const all = [readFileSync, readFile, buildActivity];`,
      ``,
    ].join('\n');
    assert.deepEqual(await lint(ACTIVITY_FILE, code), []);
  });
});

describe('a promise nobody awaits is an error everywhere', () => {
  const floating = `async function later(): Promise<void> {}\nexport function start(): void {\n  later();\n}\n`;
  for (const file of [WORKFLOW_FILE, ACTIVITY_FILE, CLI_FILE]) {
    test(`in ${path.dirname(file)}/`, async () => {
      assertOneFinding(await lint(file, floating), '@typescript-eslint/no-floating-promises', /Promises must be awaited/, 3);
    });
  }

  test('awaiting it, or marking it `void` on purpose, is fine', async () => {
    const code = `async function later(): Promise<void> {}\nexport async function start(): Promise<void> {\n  await later();\n  void later();\n}\n`;
    assert.deepEqual(await lint(CLI_FILE, code), []);
  });
});
