import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { WorkflowNotFoundError } from '@temporalio/client';
import { REPO_ROOT, startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import { assertNothingChanged, markerFile, snapshotWorld, type WorldSnapshot } from './helpers/hostile';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Hostile command lines (deployctl as a real process) and hostile worker environments (the worker as a
 * real process). Each is refused as a usage/configuration error (exit 2) naming the option or variable,
 * never echoing a credential, before anything is contacted, started or changed.
 */

let world: DeployWorld;
let initial: WorldSnapshot;
const KB = 1024;

before(async () => {
  world = await startDeployWorld();
  await world.startWorker();
  initial = await snapshotWorld(world);
});
after(async () => {
  await world?.cleanup();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    // tsx by absolute URL: the cwd is the temp data dir, where a bare 'tsx' does not resolve.
    const child = spawn(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(REPO_ROOT, script), ...args], {
      cwd: world.dataDir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const cliEnv = () => ({ TEMPORAL_ADDRESS: world.temporal.address, DEPLOY_DATABASE_URL: world.orchestratorDb.url, DEPLOY_TASK_QUEUE: 'deploys', USER: 'carol' });
const deployctl = (args: string[], env: Record<string, string> = {}) => run('src/cli/deployctl.ts', args, { ...cliEnv(), ...env });

async function noWorkflowStarted(label: string): Promise<void> {
  for (const env of ['staging', 'production']) {
    await assert.rejects(
      () => world.client.workflow.getHandle(`deploy-hello-service-${env}`).describe(),
      (err) => err instanceof WorkflowNotFoundError,
      `${label}: a deploy to ${env} was started`,
    );
  }
}

const m = {
  semicolon: markerFile('cli-semicolon'),
  dollar: markerFile('cli-dollar'),
  backtick: markerFile('cli-backtick'),
  by: markerFile('cli-by'),
  option: markerFile('cli-option'),
  lint: markerFile('cli-lint'),
  envAddress: markerFile('env-address'),
  envPort: markerFile('env-port'),
};

interface CliCase {
  name: string;
  args: () => string[];
  /** The option the message must name, as the operator typed it. */
  names: RegExp;
  markers?: string[];
  env?: Record<string, string>;
  /** A value that must never be echoed back (a credential). */
  secret?: string;
}

const deployArgs = (over: { spec?: string; env?: string; version?: string; by?: string; reason?: string }) => {
  const o = { spec: world.specPath, env: 'staging', version: '1.0.0', by: 'carol', ...over };
  return ['deploy', o.spec, '--env', o.env, '--version', o.version, '--by', o.by, ...(o.reason !== undefined ? ['--reason', o.reason] : [])];
};

const cliCases: CliCase[] = [
  { name: 'deploy --version ../../etc/passwd', args: () => deployArgs({ version: '../../etc/passwd' }), names: /--version: .*must/ },
  { name: 'deploy --version 1.0.0/../../x', args: () => deployArgs({ version: '1.0.0/../../x' }), names: /--version: / },
  { name: 'deploy --version 1.0.0;touch', args: () => deployArgs({ version: `1.0.0;touch ${m.semicolon}` }), names: /--version: /, markers: [m.semicolon] },
  { name: 'deploy --version $(touch)', args: () => deployArgs({ version: `$(touch ${m.dollar})` }), names: /--version: /, markers: [m.dollar] },
  { name: 'deploy --version `touch`', args: () => deployArgs({ version: `\`touch ${m.backtick}\`` }), names: /--version: /, markers: [m.backtick] },
  { name: 'deploy --version with Cyrillic а', args: () => deployArgs({ version: '1.0.0-betа' }), names: /--version: / },
  { name: 'deploy --version with zero-width space', args: () => deployArgs({ version: '1.0\u200b.0' }), names: /--version: / },
  { name: 'deploy --version with bidi override', args: () => deployArgs({ version: '1.0.0\u202e1-' }), names: /--version: / },
  { name: 'approve --by with zero-width space', args: () => ['approve', 'hello-service', '--env', 'production', '--by', 'al\u200bice'], names: /--by: / },
  { name: 'deploy --version of 100 KB', args: () => deployArgs({ version: '9'.repeat(100 * KB) }), names: /--version: / },
  { name: 'deploy --by with Cyrillic а', args: () => deployArgs({ by: 'cаrol' }), names: /--by: / },
  { name: 'deploy --by $(touch)', args: () => deployArgs({ by: `$(touch ${m.by})` }), names: /--by: /, markers: [m.by] },
  { name: 'deploy --env ../production', args: () => deployArgs({ env: '../production' }), names: /--env: / },
  { name: 'deploy <spec> ../../../../etc/passwd', args: () => deployArgs({ spec: '../../../../etc/passwd' }), names: /<spec>: / },
  { name: 'deploy --reason with bidi override', args: () => deployArgs({ reason: 'routine \u202eelcyc' }), names: /--reason: .*bidi/ },
  { name: 'deploy --reason of 2 KB', args: () => deployArgs({ reason: 'r'.repeat(2 * KB) }), names: /--reason: / },
  { name: 'deploy with an unknown option --force', args: () => [...deployArgs({}), '--force'], names: /unknown option '--force'/ },
  { name: 'deploy with an option $(touch)', args: () => [...deployArgs({}), `--$(touch ${m.option})`], names: /unknown option/, markers: [m.option] },
  { name: 'deploy without --version', args: () => ['deploy', world.specPath, '--env', 'staging', '--by', 'carol'], names: /--version/ },
  { name: 'approve --by a name with ;', args: () => ['approve', 'hello-service', '--env', 'production', '--by', 'alice;id'], names: /--by: / },
  { name: 'approve --comment with an escape sequence', args: () => ['approve', 'hello-service', '--env', 'production', '--by', 'alice', '--comment', 'ok\u001b]0;pwned\u0007'], names: /--comment: / },
  { name: 'status <service> hello-service/../../x', args: () => ['status', 'hello-service/../../x', '--env', 'staging'], names: /<service>: / },
  { name: 'lint-migrations ../../etc/passwd', args: () => ['lint-migrations', '../../etc/passwd'], names: /etc\/passwd: .*(not a \.sql file|no such file)/ },
  { name: 'lint-migrations --$(touch)', args: () => ['lint-migrations', `--$(touch ${m.lint})`], names: /unknown option/, markers: [m.lint] },
  {
    name: 'status with a bad TEMPORAL_ADDRESS and a credential in DEPLOY_DATABASE_URL',
    args: () => ['status', 'hello-service', '--env', 'staging'],
    env: { TEMPORAL_ADDRESS: `127.0.0.1:7233;touch ${m.envAddress}`, DEPLOY_DATABASE_URL: 'mysql://root:Cli-Secret-4b1e@db/x' },
    names: /TEMPORAL_ADDRESS.*DEPLOY_DATABASE_URL|DEPLOY_DATABASE_URL.*TEMPORAL_ADDRESS/s,
    markers: [m.envAddress],
    secret: 'Cli-Secret-4b1e',
  },
];

for (const c of cliCases) {
  test(`deployctl refuses: ${c.name}`, async () => {
    const r = await deployctl(c.args(), c.env);
    const ctx = `exit ${r.code}\nstderr: ${r.stderr.slice(0, 1500)}\nstdout: ${r.stdout.slice(0, 500)}`;
    assert.equal(r.code, 2, `${c.name}: expected the usage exit code 2\n${ctx}`);
    assert.match(r.stderr, c.names, ctx);
    // One bounded message: a huge argument is not echoed back in full, nor is a credential.
    assert.ok(r.stderr.length < 4 * KB, `${c.name}: stderr is ${r.stderr.length} chars`);
    // What the terminal shows is what was typed: no raw control, bidi or zero-width characters echoed.
    assert.doesNotMatch(r.stderr, /[\u0000-\u0009\u000b-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/, `${c.name}: raw control characters in stderr`);
    if (c.secret) assert.ok(!r.stderr.includes(c.secret) && !r.stdout.includes(c.secret), `${c.name}: echoed the credential`);
    await assertNothingChanged(world, initial, c.name, c.markers);
    await noWorkflowStarted(c.name);
  });
}

interface EnvCase {
  name: string;
  env: () => Record<string, string>;
  /** Every variable the single message must list. */
  names: string[];
  /** Values that must never be echoed. */
  hidden?: string[];
  markers?: string[];
}

const goodWorkerEnv = () => ({ ...world.workerEnv });

const envCases: EnvCase[] = [
  { name: 'TEMPORAL_ADDRESS with ;touch', env: () => ({ TEMPORAL_ADDRESS: `127.0.0.1:7233;touch ${m.envAddress}` }), names: ['TEMPORAL_ADDRESS'], hidden: [m.envAddress], markers: [m.envAddress] },
  { name: 'TEMPORAL_NAMESPACE ../../etc', env: () => ({ TEMPORAL_NAMESPACE: '../../etc' }), names: ['TEMPORAL_NAMESPACE'], hidden: ['../../etc'] },
  { name: 'DEPLOY_TASK_QUEUE with bidi override', env: () => ({ DEPLOY_TASK_QUEUE: 'deploys\u202eeueuq' }), names: ['DEPLOY_TASK_QUEUE'], hidden: ['\u202e'] },
  { name: 'DEPLOY_DATABASE_URL of another engine, with a password', env: () => ({ DEPLOY_DATABASE_URL: 'mysql://root:Env-Secret-91fa@db:3306/x' }), names: ['DEPLOY_DATABASE_URL'], hidden: ['Env-Secret-91fa'] },
  { name: 'WORKER_HEALTH_PORT -1', env: () => ({ WORKER_HEALTH_PORT: '-1' }), names: ['WORKER_HEALTH_PORT'] },
  { name: 'WORKER_HEALTH_PORT $(touch)', env: () => ({ WORKER_HEALTH_PORT: `$(touch ${m.envPort})` }), names: ['WORKER_HEALTH_PORT'], hidden: [m.envPort], markers: [m.envPort] },
  { name: 'WORKER_SHUTDOWN_GRACE_MS not a number', env: () => ({ WORKER_SHUTDOWN_GRACE_MS: 'forever' }), names: ['WORKER_SHUTDOWN_GRACE_MS'], hidden: ['forever'] },
  { name: 'WORKER_MAX_CONCURRENT_ACTIVITIES 0', env: () => ({ WORKER_MAX_CONCURRENT_ACTIVITIES: '0' }), names: ['WORKER_MAX_CONCURRENT_ACTIVITIES'] },
  { name: 'WORKER_IDENTITY of 100 KB', env: () => ({ WORKER_IDENTITY: 'w'.repeat(100 * KB) }), names: ['WORKER_IDENTITY'], hidden: ['w'.repeat(64)] },
  { name: 'TEMPORAL_API_KEY empty', env: () => ({ TEMPORAL_API_KEY: '' }), names: ['TEMPORAL_API_KEY'] },
  { name: 'TEMPORAL_TLS_CERT without TEMPORAL_TLS_KEY', env: () => ({ TEMPORAL_TLS_CERT: '/nonexistent/client.pem' }), names: ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'] },
  {
    name: 'everything wrong at once: ONE message listing every variable',
    env: () => ({
      TEMPORAL_ADDRESS: 'Combined-Secret-Addr',
      TEMPORAL_NAMESPACE: 'ns with spaces',
      DEPLOY_TASK_QUEUE: 'q;rm -rf /',
      DEPLOY_DATABASE_URL: 'http://u:Combined-Secret-Pw@x/y',
      WORKER_HEALTH_PORT: '70000',
      WORKER_SHUTDOWN_GRACE_MS: '-5',
      WORKER_MAX_CONCURRENT_ACTIVITIES: '1e9',
      TEMPORAL_API_KEY: '',
    }),
    names: ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'DEPLOY_TASK_QUEUE', 'DEPLOY_DATABASE_URL', 'WORKER_HEALTH_PORT', 'WORKER_SHUTDOWN_GRACE_MS', 'WORKER_MAX_CONCURRENT_ACTIVITIES', 'TEMPORAL_API_KEY'],
    hidden: ['Combined-Secret-Addr', 'ns with spaces', 'q;rm -rf /', 'Combined-Secret-Pw', '70000', '1e9'],
  },
];

for (const c of envCases) {
  test(`worker refuses its environment: ${c.name}`, async () => {
    const r = await run('src/worker/main.ts', [], { ...goodWorkerEnv(), ...c.env() });
    const ctx = `exit ${r.code}\nstderr: ${r.stderr.slice(0, 1500)}\nstdout: ${r.stdout.slice(0, 500)}`;
    assert.notEqual(r.code, 0, ctx);
    assert.equal(r.code, 2, ctx);
    assert.doesNotMatch(r.stdout, /worker ready/, ctx);
    // Exactly one message, whose lines each name one variable, listing all of them.
    assert.equal(r.stderr.match(/invalid worker configuration/g)?.length, 1, ctx);
    const problems = r.stderr.split('\n').filter((l) => l.startsWith('  - '));
    for (const name of c.names) assert.ok(problems.some((l) => l.includes(name)), `${c.name}: ${name} not listed\n${ctx}`);
    if (c.names.length > 1 && c.name.startsWith('everything')) assert.equal(problems.length, c.names.length, ctx);
    for (const v of c.hidden ?? []) assert.ok(!r.stderr.includes(v) && !r.stdout.includes(v), `${c.name}: the value ${JSON.stringify(v.slice(0, 40))} was echoed\n${ctx}`);
    assert.ok(r.stderr.length < 4 * KB, `${c.name}: stderr is ${r.stderr.length} chars`);
    await assertNothingChanged(world, initial, c.name, c.markers);
  });
}

test('no hostile command line or environment left a deploy behind', async () => {
  await noWorkflowStarted('all cases');
  await assertNothingChanged(world, initial, 'all cases', Object.values(m));
});
