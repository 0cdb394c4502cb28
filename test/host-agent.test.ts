import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { PostgresArtifactStore } from '../src/artifacts';
import type { HostDeployResult, HostProbeResult, HostRuntime, HostStatusResult } from '../src/agent/contract';
import { releaseIdFor, type ReleaseToDeploy } from '../src/targets';
import type { HealthPlan } from '../src/workflows/types';
import { destroyTargetRoot, freePort, makeTempDir, packRelease, releaseProcesses, waitForVersion } from './fixtures/targets/harness';
import { spawnHostAgent, type AgentProcess } from './helpers/host-agents';
import { createTestDatabase, type TestDatabase } from './helpers/pg';
import { startTestTemporal, type TestTemporal } from './helpers/temporal';
import type { callHostActivity, HostCall, HostCallOutcome } from './workflows/host-agent-driver';

// Real agent processes on a real dev server, artifacts in the PostgreSQL-backed shared store, releases as
// real processes answering HTTP: driven the way the orchestrator's fleet workflow drives them.

const SECRET = `agent-secret-${randomBytes(6).toString('hex')}`;
const DRIVER_QUEUE = 'host-agent-test';
const HEALTH: HealthPlan = {
  // The host part is the service's public name; the agent asks its own release's port for the same path.
  url: 'http://hello.example.invalid:1/healthz?from=agent',
  expect: { bodyIncludes: '"version"' },
  intervalMs: 100,
  windowMs: 5000,
  requestTimeoutMs: 1000,
  consecutiveSuccesses: 3,
  minSuccessRatio: 0.5,
  maxP95LatencyMs: 1000,
  maxConsecutiveFailures: 3,
};

let temporal: TestTemporal;
let db: TestDatabase;
let store: PostgresArtifactStore;
let work: string;
let agentsRoot: string;
let envFile: string;
let agentEnv: Record<string, string>;
let client: Client;
let driver: Worker;
let driverRun: Promise<void>;
let agent: AgentProcess;
let v1: ReleaseToDeploy;
let v2: ReleaseToDeploy;
const agents: AgentProcess[] = [];
const ports: Record<string, number> = {};

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  temporal = await startTestTemporal();
  db = await createTestDatabase('agent');
  work = await makeTempDir('host-agent');
  agentsRoot = path.join(work, 'agents');
  envFile = path.join(work, 'hello.env');
  await fs.writeFile(envFile, `# runtime configuration on the host\nAPP_SECRET=${SECRET}\n`);
  v1 = await packRelease(work, '1.0.0');
  v2 = await packRelease(work, '1.1.0');
  // The orchestrator's build stage publishes artifacts to the shared store; the agents read them from there only.
  store = await PostgresArtifactStore.open(db.url);
  for (const r of [v1, v2]) await store.put(createReadStream(r.artifactPath), { expectedSha256: r.sha256 });
  for (const host of ['h1', 'h2', 'h3']) ports[host] = await freePort();

  const connection = await Connection.connect({ address: temporal.address });
  client = new Client({ connection });
  driver = await Worker.create({
    connection: await NativeConnection.connect({ address: temporal.address }),
    taskQueue: DRIVER_QUEUE,
    workflowsPath: require.resolve('./workflows/host-agent-driver'),
  });
  driverRun = driver.run();

  agentEnv = { TEMPORAL_ADDRESS: temporal.address, DEPLOY_DATABASE_URL: db.url, DEPLOY_AGENT_ROOT: agentsRoot, WORKER_SHUTDOWN_GRACE_MS: '2000' };
  agent = await startAgent(['h1', 'h2']);
});

after(async () => {
  for (const a of agents) await a.kill9();
  for (const host of ['h1', 'h2', 'h3']) await destroyTargetRoot(targetRoot(host));
  driver?.shutdown();
  await driverRun;
  await store?.close();
  await temporal?.stop();
  await db?.drop();
  await fs.rm(work, { recursive: true, force: true });
});

async function startAgent(hosts: string[]): Promise<AgentProcess> {
  const a = await spawnHostAgent(hosts, agentEnv);
  agents.push(a);
  return a;
}

function targetRoot(host: string): string {
  return path.join(agentsRoot, host, 'hello-service', 'staging');
}

function runtime(host: string, extra: Partial<HostRuntime> = {}): HostRuntime {
  return {
    service: 'hello-service',
    environment: 'staging',
    host,
    port: ports[host]!,
    command: [process.execPath, 'service.js'],
    keepReleases: 3,
    stopTimeoutMs: 3000,
    startTimeoutMs: 20_000,
    envFile,
    requiredConfig: ['APP_SECRET'],
    ...extra,
  };
}

function release(r: ReleaseToDeploy) {
  return { service: r.service, environment: r.environment, version: r.version, sha256: r.sha256 };
}

function ref(r: ReleaseToDeploy) {
  return { releaseId: releaseIdFor(r.version, r.sha256), version: r.version, sha256: r.sha256 };
}

let calls = 0;
function start(call: HostCall): Promise<WorkflowHandle<typeof callHostActivity>> {
  return client.workflow.start<typeof callHostActivity>('callHostActivity', {
    taskQueue: DRIVER_QUEUE,
    workflowId: `host-call-${call.host}-${call.activity}-${++calls}`,
    args: [call],
  });
}

async function call(c: HostCall): Promise<HostCallOutcome> {
  return (await start(c)).result();
}

async function ok<T>(c: HostCall): Promise<T> {
  const outcome = await call(c);
  assert.ok(outcome.ok, `${c.activity} on ${c.host} failed: ${outcome.ok ? '' : `${outcome.type}: ${outcome.message}`}`);
  return outcome.result as T;
}

async function refused(c: HostCall): Promise<Extract<HostCallOutcome, { ok: false }>> {
  const outcome = await call(c);
  assert.equal(outcome.ok, false, `${c.activity} on ${c.host} should have failed`);
  return outcome as Extract<HostCallOutcome, { ok: false }>;
}

/** The attempt of each start of `activity` in the driver's history (1 = no retry). */
async function attempts(handle: WorkflowHandle): Promise<number[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : []));
}

async function sha256Of(file: string): Promise<string> {
  return createHash('sha256').update(await fs.readFile(file)).digest('hex');
}

test('an agent deploys from the shared store: the release answers on the host port, current points at it, a repeat is a no-op, rollback and status agree', async () => {
  const first = await ok<HostDeployResult>({ host: 'h1', activity: 'hostDeploy', input: { release: release(v1), runtime: runtime('h1') } });
  assert.deepEqual(first, { host: 'h1', releaseId: ref(v1).releaseId, noop: false, previous: null });
  const answer1 = await waitForVersion(ports.h1!, '1.0.0');
  assert.equal(answer1.appSecret, SECRET, 'the agent read the runtime configuration on its host and gave it to the release');
  assert.equal(await fs.readlink(path.join(targetRoot('h1'), 'current')), path.join('releases', first.releaseId));
  const cached = path.join(agentsRoot, 'h1', 'artifacts', 'sha256', `${v1.sha256}.tar.gz`);
  assert.equal(await sha256Of(cached), v1.sha256, 'the artifact is cached, verified, under the host root');

  const second = await ok<HostDeployResult>({ host: 'h1', activity: 'hostDeploy', input: { release: release(v2), runtime: runtime('h1') } });
  assert.deepEqual(second, { host: 'h1', releaseId: ref(v2).releaseId, noop: false, previous: ref(v1) });
  const answer2 = await waitForVersion(ports.h1!, '1.1.0');
  assert.equal(await fs.readlink(path.join(targetRoot('h1'), 'current')), path.join('releases', second.releaseId));

  const repeat = await ok<HostDeployResult>({ host: 'h1', activity: 'hostDeploy', input: { release: release(v2), runtime: runtime('h1') } });
  assert.deepEqual(repeat, { ...second, noop: true }, 'a repeat changes nothing and reports the same previous');
  assert.equal((await waitForVersion(ports.h1!, '1.1.0')).pid, answer2.pid, 'nothing was restarted');

  const probe = await ok<HostProbeResult>({ host: 'h1', activity: 'hostProbe', input: { runtime: runtime('h1'), health: HEALTH } });
  assert.equal(probe.host, 'h1');
  assert.equal(probe.passed, true);
  assert.ok(probe.samples >= 3, `at least consecutiveSuccesses probes (${probe.samples})`);

  const status = await ok<HostStatusResult>({ host: 'h1', activity: 'hostStatus', input: { runtime: runtime('h1') } });
  assert.deepEqual(status, { host: 'h1', current: ref(v2), running: true, pid: answer2.pid, agent: { version: 1, root: path.join(agentsRoot, 'h1') } });

  const rolledBack = await ok<{ host: string; restored: unknown }>({ host: 'h1', activity: 'hostRollback', input: { runtime: runtime('h1'), to: second.previous } });
  assert.deepEqual(rolledBack, { host: 'h1', restored: ref(v1) });
  await waitForVersion(ports.h1!, '1.0.0');
  assert.equal(await fs.readlink(path.join(targetRoot('h1'), 'current')), path.join('releases', ref(v1).releaseId));
  assert.deepEqual((await ok<HostStatusResult>({ host: 'h1', activity: 'hostStatus', input: { runtime: runtime('h1') } })).current, ref(v1));

  // h2 is served by the same process, with its own task queue, root and port.
  const onH2 = await ok<HostDeployResult>({ host: 'h2', activity: 'hostDeploy', input: { release: release(v2), runtime: runtime('h2') } });
  assert.equal(onH2.host, 'h2');
  assert.equal(onH2.previous, null);
  await waitForVersion(ports.h2!, '1.1.0');
  assert.equal(await fs.readlink(path.join(targetRoot('h2'), 'current')), path.join('releases', ref(v2).releaseId));
  assert.equal((await waitForVersion(ports.h1!, '1.0.0')).version, '1.0.0', 'h1 is untouched');

  const out = agent.output();
  assert.match(out, /\[agent h1\] deploy hello-service\/staging 1\.0\.0: fetching artifact [0-9a-f]{64}/);
  assert.match(out, /\[agent h1\] deploy hello-service\/staging 1\.0\.0: started pid \d+/);
  assert.match(out, /\[agent h2\] deploy hello-service\/staging 1\.1\.0: release 1\.1\.0-[0-9a-f]{12} runs on port \d+/);
  assert.ok(!out.includes(SECRET), 'the agent never logs a configuration value');
});

test('rollback to nothing stops the release and clears current; a probe of a host that serves nothing fails non-retryably with its report', async () => {
  await ok({ host: 'h2', activity: 'hostDeploy', input: { release: release(v2), runtime: runtime('h2') } });
  const cleared = await ok<{ restored: unknown }>({ host: 'h2', activity: 'hostRollback', input: { runtime: runtime('h2'), to: null } });
  assert.equal(cleared.restored, null);
  await assert.rejects(fs.readlink(path.join(targetRoot('h2'), 'current')), { code: 'ENOENT' });
  assert.deepEqual(await releaseProcesses(targetRoot('h2')), [], 'no release process is left');
  const status = await ok<HostStatusResult>({ host: 'h2', activity: 'hostStatus', input: { runtime: runtime('h2') } });
  assert.equal(status.current, null);
  assert.equal(status.running, false);

  const handle = await start({ host: 'h2', activity: 'hostProbe', input: { runtime: runtime('h2'), health: HEALTH } });
  const failed = (await handle.result()) as Extract<HostCallOutcome, { ok: false }>;
  assert.equal(failed.ok, false);
  assert.equal(failed.type, 'HealthCheckFailed');
  assert.equal(failed.nonRetryable, true);
  assert.match(failed.message, new RegExp(`host h2: health analysis of hello-service/staging at http://127\\.0\\.0\\.1:${ports.h2}/healthz\\?from=agent failed`));
  const report = failed.details[0] as { passed: boolean; samples: number };
  assert.equal(report.passed, false);
  assert.ok(report.samples >= 3);
  assert.deepEqual(await attempts(handle), [1], 'not retried');
});

test('bad input, a wrong host, a missing artifact or missing configuration are refused for good, naming the field', async () => {
  const cases: Array<{ call: HostCall; type: string; says: RegExp }> = [
    { call: { host: 'h1', activity: 'hostDeploy', input: { release: release(v1), runtime: runtime('h1', { host: '../x' }) } }, type: 'InvalidInput', says: /hostDeploy input is invalid: runtime\.host: must be lowercase/ },
    { call: { host: 'h1', activity: 'hostDeploy', input: { release: release(v1), runtime: runtime('h1', { port: 0 }) } }, type: 'InvalidInput', says: /runtime\.port: must be 1024-65535/ },
    { call: { host: 'h1', activity: 'hostStatus', input: { runtime: runtime('h1', { command: [] }) } }, type: 'InvalidInput', says: /runtime\.command: must be a non-empty argv array/ },
    { call: { host: 'h1', activity: 'hostDeploy', input: { release: { ...release(v1), sha256: 'ABC' }, runtime: runtime('h1') } }, type: 'InvalidInput', says: /release\.sha256: must be 64 lowercase hex digits/ },
    { call: { host: 'h1', activity: 'hostDeploy', input: { release: { ...release(v1), service: 'other' }, runtime: runtime('h1') } }, type: 'InvalidInput', says: /release\.service: must equal runtime\.service/ },
    { call: { host: 'h1', activity: 'hostRollback', input: { runtime: runtime('h1', { service: '../../etc' }), to: null } }, type: 'InvalidInput', says: /runtime\.service: must be lowercase/ },
    { call: { host: 'h1', activity: 'hostProbe', input: { runtime: runtime('h1'), health: { ...HEALTH, windowMs: 0 } } }, type: 'InvalidInput', says: /health\.windowMs: windowMs must be greater than 0/ },
    { call: { host: 'h1', activity: 'hostStatus', input: { runtime: runtime('h1', { envFile: 'relative.env' }) } }, type: 'InvalidInput', says: /runtime\.envFile: must be an absolute/ },
    { call: { host: 'h1', activity: 'hostStatus', input: { runtime: { ...runtime('h1'), token: 'x' } } }, type: 'InvalidInput', says: /runtime\.token: unknown field/ },
    { call: { host: 'h1', activity: 'hostStatus', input: { runtime: runtime('h2') } }, type: 'InvalidInput', says: /runtime\.host is "h2", but this agent polls deploys-host-h1 for host h1; schedule it on deploys-host-h2/ },
    {
      call: { host: 'h1', activity: 'hostDeploy', input: { release: { ...release(v1), sha256: 'f'.repeat(64) }, runtime: runtime('h1') } },
      type: 'ArtifactConflict',
      says: new RegExp(`artifact ${'f'.repeat(64)} is in neither the artifact store \\(PostgreSQL database ${db.name}`),
    },
    { call: { host: 'h1', activity: 'hostDeploy', input: { release: release(v2), runtime: runtime('h1', { requiredConfig: ['APP_SECRET', 'DATABASE_URL', 'API_TOKEN'] }) } }, type: 'InvalidInput', says: /runtime\.requiredConfig needs DATABASE_URL, API_TOKEN, missing or empty in runtime\.envFile .*hello\.env on host h1/ },
  ];
  for (const c of cases) {
    const handle = await start(c.call);
    const outcome = (await handle.result()) as Extract<HostCallOutcome, { ok: false }>;
    assert.equal(outcome.ok, false, `${JSON.stringify(c.call.input).slice(0, 200)} was accepted`);
    assert.equal(outcome.type, c.type, outcome.message);
    assert.equal(outcome.nonRetryable, true, outcome.message);
    assert.match(outcome.message, c.says);
    assert.ok(!outcome.message.includes(SECRET));
    assert.deepEqual(await attempts(handle), [1], `${c.says}: not retried`);
  }
  // None of them changed what h1 runs.
  assert.deepEqual((await ok<HostStatusResult>({ host: 'h1', activity: 'hostStatus', input: { runtime: runtime('h1') } })).current, ref(v1));
});

test('a second agent for a host that is already served refuses to start, naming the agent that serves it', async () => {
  await assert.rejects(spawnHostAgent(['h3', 'h1'], agentEnv), (err: Error) => {
    assert.match(err.message, /agent exited with 2 before ready/);
    assert.match(err.message, new RegExp(`host h1 is already served by agent pid ${agent.child.pid} `));
    return true;
  });
  // It let go of the host it had claimed first (h3), so that host's own agent starts later.
  await assert.rejects(fs.stat(path.join(agentsRoot, 'h3', 'agent.pid')), { code: 'ENOENT' });
});

test('a damaged cached artifact is not used: the agent fetches it again from the store and verifies it', async () => {
  const cached = path.join(agentsRoot, 'h1', 'artifacts', 'sha256', `${v2.sha256}.tar.gz`);
  assert.equal(await sha256Of(cached), v2.sha256);
  await fs.chmod(cached, 0o644);
  await fs.writeFile(cached, 'not the artifact');
  const before = agent.output().length;

  const deployed = await ok<HostDeployResult>({ host: 'h1', activity: 'hostDeploy', input: { release: release(v2), runtime: runtime('h1') } });
  assert.equal(deployed.releaseId, ref(v2).releaseId);
  await waitForVersion(ports.h1!, '1.1.0');
  assert.equal(await sha256Of(cached), v2.sha256, 'the cache holds the verified bytes again');
  assert.match(agent.output().slice(before), new RegExp(`the cached copy of artifact ${v2.sha256} is damaged .*; fetching it again from the artifact store`));
});

test('an agent killed with kill -9 in the middle of a deploy and started again finishes that deploy', async () => {
  // The release listens only once `go` exists, so the deploy is still waiting for it when its agent dies.
  const go = path.join(work, 'h3-go');
  const slowEnv = path.join(work, 'slow.env');
  await fs.writeFile(slowEnv, `APP_SECRET=${SECRET}\nLISTEN_WHEN_FILE=${go}\n`);
  const h3 = await startAgent(['h3']);
  const input = { release: release(v1), runtime: runtime('h3', { envFile: slowEnv }) };
  const handle = await start({ host: 'h3', activity: 'hostDeploy', input, heartbeatTimeoutMs: 2000 });

  const deadline = Date.now() + 30_000;
  while (!/\[agent h3\] deploy hello-service\/staging 1\.0\.0: started pid \d+/.test(h3.output())) {
    assert.ok(Date.now() < deadline, `the deploy on h3 did not start its release:\n${h3.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await h3.kill9();
  const orphans = await releaseProcesses(targetRoot('h3'));
  assert.equal(orphans.length, 1, 'the release process outlives its agent');

  const restarted = await startAgent(['h3']);
  await fs.writeFile(go, '');
  const outcome = await handle.result();
  assert.ok(outcome.ok, `the retried deploy failed: ${outcome.ok ? '' : outcome.message}\n${restarted.output()}`);
  assert.deepEqual(outcome.result, { host: 'h3', releaseId: ref(v1).releaseId, noop: false, previous: null });
  const answer = await waitForVersion(ports.h3!, '1.0.0');
  assert.deepEqual(await releaseProcesses(targetRoot('h3')), orphans, 'the release started before the kill was kept, not started twice');
  assert.equal(answer.pid, orphans[0]);
  assert.ok((await attempts(handle)).some((n) => n >= 2), 'the activity was retried on the restarted agent');
  const history = JSON.stringify(await handle.fetchHistory());
  assert.ok(!history.includes(SECRET), 'no configuration value is in the history');

  // The restarted agent stops cleanly on SIGTERM.
  assert.equal(await restarted.stop(), 0);
  assert.match(restarted.output(), /agent stopped/);
  await assert.rejects(fs.stat(path.join(agentsRoot, 'h3', 'agent.pid')), { code: 'ENOENT' }, 'it let go of the host');
  assert.deepEqual(await releaseProcesses(targetRoot('h3')), orphans, 'the release outlives its agent');
});
