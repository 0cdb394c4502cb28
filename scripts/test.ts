/**
 * `npm test`: typecheck, lint, the Temporal CLI (built when missing), PostgreSQL up, then every test file
 * on the real stack, one file at a time (each file starts its own Temporal dev server on free ports). A
 * failed run ends with each failing file and, under it, its failing tests.
 *
 *   npm test                              all of test/**\/*.test.ts except test/faults/** and test/cluster/**
 *   npm test -- --faults                  only test/faults/**
 *   npm run test:unit                     only test/unit/** (no PostgreSQL, no builds, no typecheck)
 *   npm test -- --cluster                 only test/cluster/** (builds the Temporal server and UI server first)
 *   npm test -- test/foo.test.ts          just these files (or directories)
 *   npm test -- --skip-checks test/foo.test.ts   the files without the typecheck and lint
 *   npm test -- --test-name-pattern=x     other --flags go to `node --test`
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { eslintArgv } from './lib/lint';
import { formatDuration, info, step } from './lib/log';
import { ensurePostgres } from './lib/postgres';
import { findOrBuildTemporalCli } from './lib/temporal-cli';
import { formatFailureSummary, parseFailedTests, type FailedTest } from './lib/test-failures';
import { findOrBuildClusterBinaries } from './lib/cluster-binaries';

const ROOT = path.resolve(__dirname, '..');
const TEST_DIR = path.join(ROOT, 'test');
const FAULTS_DIR = path.join(TEST_DIR, 'faults');
const UNIT_DIR = path.join(TEST_DIR, 'unit');
const CLUSTER_DIR = path.join(TEST_DIR, 'cluster');
const FAILED_TESTS_REPORTER = path.join(__dirname, 'lib', 'failed-tests-reporter.mjs');

/** Lanes: the default run holds everything but faults and cluster; each other lane is selected by its flag alone. */
type Lane = 'default' | 'faults' | 'cluster' | 'unit';

interface TestArgs {
  lane: Lane;
  skipChecks: boolean;
  filters: string[];
  nodeTestFlags: string[];
}

function parseArgs(argv: string[]): TestArgs {
  const args: TestArgs = { lane: 'default', skipChecks: false, filters: [], nodeTestFlags: [] };
  for (const arg of argv) {
    if (arg === '--faults') args.lane = 'faults';
    else if (arg === '--cluster') args.lane = 'cluster';
    else if (arg === '--unit') args.lane = 'unit';
    else if (arg === '--skip-checks') args.skipChecks = true;
    else if (arg.startsWith('--')) args.nodeTestFlags.push(arg);
    else args.filters.push(arg);
  }
  return args;
}

async function listTestFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await listTestFiles(full)));
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(full);
  }
  return found.sort();
}

function isUnder(file: string, dir: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

async function selectTestFiles(args: TestArgs): Promise<string[]> {
  if (args.filters.length > 0) {
    const selected: string[] = [];
    for (const filter of args.filters) {
      const full = path.resolve(filter);
      const stat = await fs.stat(full).catch(() => undefined);
      if (!stat) throw new Error(`Test file or directory ${filter} does not exist.`);
      selected.push(...(stat.isDirectory() ? await listTestFiles(full) : [full]));
    }
    return selected;
  }
  if (args.lane === 'unit') return listTestFiles(UNIT_DIR);
  const all = await listTestFiles(TEST_DIR);
  const laneOf = (file: string): Lane => (isUnder(file, FAULTS_DIR) ? 'faults' : isUnder(file, CLUSTER_DIR) ? 'cluster' : 'default');
  // test/unit/** belongs to the default run too: npm test runs everything.
  return all.filter((file) => laneOf(file) === args.lane);
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/**
 * Runs the test files in one `node --test`, with the spec reporter showing the run live, and returns its
 * exit code and the failed tests that the failed-tests reporter recorded.
 */
async function runTestFiles(files: string[], nodeTestFlags: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; failed: FailedTest[] }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'deploy-test-run-'));
  const failedFile = path.join(dir, 'failed-tests.jsonl');
  try {
    const code = await run(
      process.execPath,
      [
        '--import', 'tsx', '--test', '--test-concurrency=1',
        '--test-reporter=spec', '--test-reporter-destination=stdout',
        `--test-reporter=${FAILED_TESTS_REPORTER}`, `--test-reporter-destination=${failedFile}`,
        ...nodeTestFlags,
        ...files.map((file) => path.relative(ROOT, file)),
      ],
      env,
    );
    const failed = parseFailedTests(await fs.readFile(failedFile, 'utf8').catch(() => ''));
    return { code, failed };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** A step whose failure (non-zero exit) is recorded and reported at the end instead of stopping the run. */
async function exitCodeStep(label: string, failures: string[], runStep: () => Promise<number>): Promise<void> {
  try {
    await step(label, async () => {
      const code = await runStep();
      if (code !== 0) throw new Error(`exit code ${code}`);
    });
  } catch {
    failures.push(label);
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  const args = parseArgs(process.argv.slice(2));
  const failures: string[] = [];
  let testRun: { fileCount: number; code: number; failed: FailedTest[] } | undefined;

  // tsx does not typecheck, so a type error would otherwise pass unnoticed; the tests still run after
  // a type or lint error so that one CI run reports all of them. The fast tier skips both.
  if (!args.skipChecks && args.lane !== 'unit') {
    await exitCodeStep('typecheck (tsc --noEmit -p .)', failures, () =>
      run(process.execPath, [require.resolve('typescript/bin/tsc'), '--noEmit', '-p', '.'], process.env),
    );
    await exitCodeStep('lint (eslint)', failures, () => run(process.execPath, eslintArgv([]), process.env));
  }

  const cli = await step('Temporal CLI', () => findOrBuildTemporalCli());
  info(`  using ${cli.value}`);
  // The fast tier proves decisions with stand-in activities: it needs a Temporal server, not a database.
  if (args.lane !== 'unit') await step('PostgreSQL on 127.0.0.1:5432', () => ensurePostgres());
  if (args.lane === 'cluster' || args.filters.some((filter) => isUnder(path.resolve(filter), CLUSTER_DIR) || path.resolve(filter) === CLUSTER_DIR)) {
    // Built here, once, so that no test file's before() spends its timeout on a first compile.
    await step('Temporal server, SQL tool and UI server', () => findOrBuildClusterBinaries());
  }

  const files = await selectTestFiles(args);
  if (files.length === 0) {
    info(args.lane === 'default' ? 'No test files found.' : `No test files under test/${args.lane}/.`);
    failures.push('no test files');
  } else {
    // NODE_TEST_CONTEXT is set when this runs inside a test; node --test would then skip every file and pass.
    const { NODE_TEST_CONTEXT: _insideTest, ...inherited } = process.env;
    const env = { ...inherited, TEMPORAL_CLI: cli.value };
    await exitCodeStep(`tests (${files.length} file(s))`, failures, async () => {
      const { code, failed } = await runTestFiles(files, args.nodeTestFlags, env);
      testRun = { fileCount: files.length, code, failed };
      return code;
    });
  }

  info(`\nTotal wall time: ${formatDuration(Date.now() - started)}`);
  if (failures.length > 0) {
    info(`FAILED: ${failures.join(', ')}`);
    if (testRun && testRun.failed.length > 0) info(`\n${formatFailureSummary(testRun.failed, testRun.fileCount, ROOT)}`);
    else if (testRun && testRun.code !== 0) info(`node --test exited with code ${testRun.code} without naming a failed test: see its output above.`);
    return 1;
  }
  info('All steps passed.');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    info(`\n${err.message}`);
    process.exit(1);
  },
);
