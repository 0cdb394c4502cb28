import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

const ROOT = path.resolve(__dirname, '..');
let dir: string;
let passingFile: string;
let failingFile: string;
let brokenFile: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 't-runner-summary-'));
  passingFile = path.join(dir, 'all-good.test.ts');
  failingFile = path.join(dir, 'zebra-stripes.test.ts');
  brokenFile = path.join(dir, 'does-not-load.test.ts');
  await fs.writeFile(
    passingFile,
    `import { test } from 'node:test';\ntest('passes quietly', () => {});\n`,
  );
  await fs.writeFile(
    failingFile,
    [
      `import { describe, test } from 'node:test';`,
      `import assert from 'node:assert/strict';`,
      `test('a neighbour that passes', () => {});`,
      `describe('zebra suite', () => {`,
      `  test('counts exactly seven stripes', () => assert.equal(6, 7));`,
      `});`,
      ``,
    ].join('\n'),
  );
  await fs.writeFile(brokenFile, `throw new Error('the okapi module is missing');\n`);
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runTestScript(args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'scripts', 'test.ts'), ...args],
      { cwd: ROOT, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

test('npm test ends by naming each failing file and its failing tests, and exits non-zero', async () => {
  const { code, stdout, stderr } = await runTestScript(['--skip-checks', passingFile, failingFile, brokenFile]);
  const context = `exit code ${code}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  assert.equal(code, 1, context);

  // The live output is still the spec reporter's.
  assert.match(stdout, /✔ passes quietly/, context);
  assert.match(stdout, /✖ counts exactly seven stripes/, context);

  // The summary is the end of the output: each failing file, indented under it its failing tests.
  const summaryStart = stderr.lastIndexOf('✗ 2 of 3 test file(s) failed:');
  assert.ok(summaryStart >= 0, `no failure summary in\n${context}`);
  const testsByFile = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of stderr.slice(summaryStart).trimEnd().split('\n').slice(1)) {
    if (line.startsWith('    ')) current.push(line.trim());
    else testsByFile.set(line.trim(), (current = []));
  }
  assert.deepEqual([...testsByFile.keys()].sort(), [brokenFile, failingFile].sort(), context);
  assert.deepEqual(testsByFile.get(failingFile), [
    '✗ zebra suite › counts exactly seven stripes — Expected values to be strictly equal: 6 !== 7',
  ]);
  const brokenEntries = testsByFile.get(brokenFile)!;
  assert.equal(brokenEntries.length, 1);
  assert.match(brokenEntries[0]!, /^✗ \(outside any test: .*\) — Error: the okapi module is missing$/);
});
