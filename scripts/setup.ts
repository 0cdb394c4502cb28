/**
 * `npm run setup`: everything the stack needs, each step idempotent — the build, the pinned Temporal
 * CLI (built when missing), PostgreSQL up, the orchestrator's database and the example service's world.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { findOrInstallBubblewrap } from './lib/bubblewrap';
import { prepareExample, type ExampleWorld } from './lib/example';
import { findOrInstallHaproxy, WITHOUT_HAPROXY, type HaproxyInstallLookup } from './lib/haproxy';
import { formatDuration, info, step, warn } from './lib/log';
import { ensureDatabase, ensurePostgres, redactUrl, splitDatabaseUrl } from './lib/postgres';
import { findOrBuildTemporalCli } from './lib/temporal-cli';

export const ROOT = path.resolve(__dirname, '..');
export const DATA_DIR = path.join(ROOT, '.data');
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/deployer';

export interface SetupResult {
  cli: string;
  /** The orchestrator's database (DEPLOY_DATABASE_URL or the default). */
  databaseUrl: string;
  /** The same server's maintenance database, for creating databases. */
  adminUrl: string;
  example: ExampleWorld;
  /** The haproxy the traffic front doors run, or why there is none (setup goes on without it). */
  haproxy: HaproxyInstallLookup;
}

export async function runSetup(): Promise<SetupResult> {
  const started = Date.now();
  const databaseUrl = process.env.DEPLOY_DATABASE_URL || DEFAULT_DATABASE_URL;
  const { adminUrl, database } = splitDatabaseUrl(databaseUrl);

  await step('build (tsc -p tsconfig.build.json)', () =>
    runOrFail(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], 'The build'),
  );
  const cli = (await step('Temporal CLI', () => findOrBuildTemporalCli())).value;
  info(`  ${cli}`);
  const haproxy = (await step('HAProxy (traffic front doors)', () => findOrInstallHaproxy({ onProgress: (line) => info(`  ${line}`) }))).value;
  if (haproxy.found) info(`  ${haproxy.path} (HAProxy ${haproxy.version}${haproxy.installedNow ? ', installed now' : ''})`);
  else warn(`${haproxy.reason}\n${WITHOUT_HAPROXY}`);
  const sandbox = (await step('build sandbox (bubblewrap)', () => findOrInstallBubblewrap((line) => info(`  ${line}`)))).value;
  if (sandbox.ok) info(`  builds run sandboxed (${sandbox.kind === 'root' ? 'bubblewrap + setpriv as uid 65534' : sandbox.kind}${sandbox.installedNow ? ', bubblewrap installed now' : ''})`);
  else warn(`${sandbox.reason}\nWithout it builds are refused.`);
  const postgres = (await step('PostgreSQL', () => ensurePostgres({ adminUrl }))).value;
  info(`  ${postgres === 'started' ? 'started' : 'already running'} at ${redactUrl(adminUrl)}`);
  const created = (await step(`orchestrator database "${database}"`, () => ensureDatabase(adminUrl, database))).value;
  info(`  ${created ? 'created' : 'already exists'}: ${redactUrl(databaseUrl)}`);
  const example = (
    await step('example service hello-service (source repository, databases, config)', () =>
      prepareExample({ dataDir: DATA_DIR, adminUrl, allowedSignersFile: path.join(ROOT, 'examples/hello-service/allowed_signers'), onProgress: (message) => info(`  ${message}`) }),
    )
  ).value;
  info(`  source repository: ${path.relative(ROOT, example.sourceRepo)}`);
  info(`  databases: ${Object.values(example.databases).join(', ')}`);

  info(`Setup done in ${formatDuration(Date.now() - started)}.`);
  return { cli, databaseUrl, adminUrl, example, haproxy };
}

function runOrFail(command: string, args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}); see the errors above.`)),
    );
  });
}

if (require.main === module) {
  runSetup().then(
    () => process.exit(0),
    (err: Error) => {
      info(`\nSetup failed: ${err.message}`);
      process.exit(1);
    },
  );
}
