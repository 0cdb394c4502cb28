import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { Registry } from '../src/registry/registry';
import { startDeployWorld, REPO_ROOT, type DeployWorld } from './helpers/deploy-world';
import { FrontDoor } from '../src/traffic';
import { haproxyForTests } from './helpers/traffic';
import { currentRelease, temporalCli } from './helpers/workflow-probes';

/**
 * deployctl stop and undeploy as operators run them (a real deployctl process), on a real Temporal dev
 * server, an in-process worker, PostgreSQL and the example service's real processes. Tests run in order
 * and build on each other: staging 1.0.0 → stop → 1.0.0 again → undeploy → 1.1.0 (a first deploy) → an
 * undeploy refused while a deploy holds the lock; production's signed requests; then staging behind an
 * HAProxy front door (the example's canary).
 */

const execFileAsync = promisify(execFile);
let world: DeployWorld;
let registry: Registry;

before(async () => {
  world = await startDeployWorld();
  await world.startWorker();
  registry = await Registry.open(world.orchestratorDb.url);
});
after(async () => {
  await registry?.close();
  await world?.cleanup();
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function deployctl(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/deployctl.ts'), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...world.workerEnv, TEMPORAL_UI_URL: 'http://ui.example:8233', USER: 'carol', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`deployctl ${args.join(' ')} did not finish in time\n${stdout}\n${stderr}`));
    }, 240_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      // DEPLOYCTL_TEST_ECHO=1 shows what an operator would have seen, to review the wording.
      if (process.env.DEPLOYCTL_TEST_ECHO) console.log(`$ deployctl ${args.join(' ')}\n${stdout}${stderr}[exit ${code}]\n`);
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (r: CliRun) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** The pid the local target recorded for its release process, or undefined when there is no pidfile. */
async function recordedPid(env: string): Promise<number | undefined> {
  const text = await fs.readFile(path.join(world.targetRoot(env), 'service.pid'), 'utf8').catch(() => undefined);
  return text ? (JSON.parse(text) as { pid: number }).pid : undefined;
}

/** Whether a process exists (and is not a zombie waiting for its parent). */
async function processExists(pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return false;
  return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!);
}

async function answers(env: 'staging' | 'production'): Promise<boolean> {
  return world.get(env, '/').then(
    () => true,
    () => false,
  );
}

async function deployAndWait(environment: 'staging' | 'production', version: string): Promise<{ handle: WorkflowHandle; planSummary: string }> {
  const handle = await world.deploy({ environment, version });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result?.timeline, null, 1));
  return { handle, planSummary: result.stages[0]?.summary ?? '' };
}

const stopArgs = (action: 'stop' | 'undeploy', env: string, reason: string, ...more: string[]) => [action, 'hello-service', '--env', env, '--spec', world.specPath, '--reason', reason, ...more];

test('bad arguments exit 2 naming the option, and nothing starts', async () => {
  const cases: Array<{ args: string[]; names: RegExp }> = [
    { args: ['undeploy', 'hello-service', '--env', 'staging', '--spec', world.specPath], names: /required option '--reason <text>' not specified/ },
    { args: stopArgs('stop', 'staging', '   '), names: /--reason: say why/ },
    { args: ['stop', 'other-service', '--env', 'staging', '--spec', world.specPath, '--reason', 'x'], names: /--spec: .* describes hello-service, not other-service/ },
    { args: stopArgs('undeploy', 'qa', 'x'), names: /--env: "qa" is not an environment of hello-service/ },
    // production's gate is signed: so is a stop request there
    { args: stopArgs('stop', 'production', 'x'), names: /--key: production has a signed approval gate \(before migrate\), so a stop request must be signed by carol's key/ },
  ];
  for (const c of cases) {
    const r = await deployctl(c.args);
    assert.equal(r.code, 2, `${c.args.join(' ')}\n${show(r)}`);
    assert.match(r.stderr, c.names, show(r));
  }
  let started = 0;
  for await (const _ of world.client.workflow.list({ query: 'WorkflowType="undeployService"' })) started++;
  assert.equal(started, 0, 'a refused command line must not start a workflow');
});

test('stop ends the release process and keeps current; its run is in history with who and why; a deploy of the same version starts it again', async () => {
  await deployAndWait('staging', '1.0.0');
  const release = await currentRelease(world, 'staging');
  const pid = await recordedPid('staging');
  assert.ok(release && pid && (await processExists(pid)), `1.0.0 runs (current ${release}, pid ${pid})`);

  const r = await deployctl(stopArgs('stop', 'staging', 'pause for the load test'));
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /started: stop hello-service in staging \(current kept\), requested by carol: pause for the load test/);
  assert.match(r.stdout, /workflow ID: deploy-hello-service-staging \(type undeployService, the deploy lock\)/);
  assert.match(r.stdout, new RegExp(`✓ stop succeeded — pid ${pid} \\(${release}\\) stopped; current kept: ${release}`), show(r));
  assert.match(r.stdout, /stop hello-service 1\.0\.0 in staging: succeeded/, show(r));

  assert.equal(await processExists(pid), false, `pid ${pid} is gone`);
  assert.equal(await answers('staging'), false, 'nothing answers on the port');
  assert.equal(await currentRelease(world, 'staging'), release, 'current still names the release');
  assert.equal((await registry.live('hello-service', 'staging'))?.version, '1.0.0', 'the registry keeps it live');
  const [stop] = await registry.stops('hello-service', 'staging');
  assert.deepEqual([stop?.action, stop?.version, stop?.requestedBy, stop?.reason], ['stop', '1.0.0', 'carol', 'pause for the load test']);

  // Visible like a deploy's: its type, search attributes, summary, and the activities in its history.
  const handle = world.client.workflow.getHandle('deploy-hello-service-staging');
  const d = await handle.describe();
  assert.equal(d.type, 'undeployService');
  assert.deepEqual([d.searchAttributes.DeployStatus, d.searchAttributes.DeployService, d.searchAttributes.DeployRequestedBy], [['succeeded'], ['hello-service'], ['carol']]);
  assert.equal(d.memo?.summary, 'stop hello-service 1.0.0 in staging (current kept), requested by carol: succeeded');
  assert.equal(await d.staticSummary(), 'stop hello-service in staging, requested by carol');
  const history = await handle.fetchHistory();
  const activities = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
  assert.deepEqual(activities, ['planUndeploy', 'stopService']);

  const status = await deployctl(['status', 'hello-service', '--env', 'staging']);
  assert.equal(status.code, 0, show(status));
  assert.match(status.stdout, /no deploy is running; the last one:\nstop hello-service 1\.0\.0 in staging: succeeded/, show(status));
  assert.match(status.stdout, /stop requested by carol — pause for the load test/, show(status));

  const again = await deployAndWait('staging', '1.0.0');
  assert.match(again.planSummary, /^redeploy of 1\.0\.0 \(live: 1\.0\.0\)/);
  assert.equal((await world.get('staging', '/')).body.version, '1.0.0', 'the same version runs again');
  assert.equal(await currentRelease(world, 'staging'), release);
});

test('undeploy ends the process, removes current and leaves nothing live; the next deploy plans as a first deploy', async () => {
  const pid = await recordedPid('staging');
  assert.ok(pid && (await processExists(pid)));

  const r = await deployctl(stopArgs('undeploy', 'staging', 'service retired', '--by', 'alice'));
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /✓ undeploy succeeded — pid \d+ \(1\.0\.0-[0-9a-f]{12}\) stopped; current removed; 1\.0\.0 is no longer live in the registry/, show(r));
  assert.match(r.stdout, /undeploy hello-service 1\.0\.0 in staging: succeeded/, show(r));

  assert.equal(await processExists(pid), false, `pid ${pid} is gone`);
  assert.equal(await currentRelease(world, 'staging'), null, 'current is gone');
  assert.equal(await recordedPid('staging'), undefined, 'the pidfile is gone');
  assert.equal(await registry.live('hello-service', 'staging'), null, 'the registry shows nothing live');
  const rows = await registry.history('hello-service', 'staging');
  assert.equal(rows[0]?.status, 'undeployed');
  const [undeploy] = await registry.stops('hello-service', 'staging');
  assert.deepEqual([undeploy?.action, undeploy?.version, undeploy?.requestedBy, undeploy?.reason], ['undeploy', '1.0.0', 'alice', 'service retired']);

  const history = await deployctl(['history', 'hello-service', '--env', 'staging']);
  assert.equal(history.code, 0, show(history));
  assert.match(history.stdout, /undeploy: succeeded\s+alice/, show(history));
  assert.match(history.stdout, /stop: succeeded\s+carol/, show(history));

  // 1.0.0 was live before the undeploy, but the environment starts from nothing: not a rollback.
  const next = await deployAndWait('staging', '1.1.0');
  assert.match(next.planSummary, /^first deploy of 1\.1\.0 \(first deploy\)/);
  assert.equal((await world.get('staging', '/')).body.version, '1.1.0');
});

test('an undeploy while a deploy holds the lock is refused (exit 3) and stops nothing', async () => {
  // A gate before the build keeps the deploy waiting (holding the lock) without changing anything.
  await world.updateSpec((spec) => {
    spec.environments.staging.gates = [{ before: 'build', approvers: ['alice'], quorum: 1, requesterMayApprove: false, timeoutMinutes: 60, onTimeout: 'reject', signed: false }];
  });
  try {
    const handle = await world.deploy({ environment: 'staging', version: '1.0.0' });
    await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval');
    const runId = (await handle.describe()).runId;

    const r = await deployctl(stopArgs('undeploy', 'staging', 'retire'));
    assert.equal(r.code, 3, show(r));
    assert.match(
      r.stderr,
      new RegExp(`cannot undeploy hello-service from staging: a deploy of hello-service in staging is running as deploy-hello-service-staging \\(run ${runId}\\), and an undeploy never runs beside it \\(they share the lock\\)\\. Nothing was stopped\\.`),
      show(r),
    );
    assert.match(r.stderr, /deployctl status hello-service --env staging/);
    assert.equal((await world.get('staging', '/')).body.version, '1.1.0', 'the service still runs');
    assert.equal((await handle.describe()).runId, runId, 'the deploy still holds the lock');

    await handle.cancel();
    assert.equal((await world.outcome(handle)).status, 'cancelled');
  } finally {
    await world.updateSpec((spec) => delete spec.environments.staging.gates);
  }
});

test('production: a stop or undeploy request must be signed; the Temporal CLI form without a signature is refused at plan, the one deployctl --print signs runs', async () => {
  const input = { spec: world.specPath, environment: 'production', action: 'undeploy', requestedBy: 'carol', reason: 'decommission' };
  const unsigned = await temporalCli(world, ['workflow', 'start', '--task-queue', 'deploys', '--type', 'undeployService', '--workflow-id', 'deploy-hello-service-production', '--input', JSON.stringify(input)]);
  assert.equal(unsigned.code, 0, unsigned.stderr);
  const refused = await world.outcome(world.client.workflow.getHandle('deploy-hello-service-production'));
  assert.equal(refused.status, 'failed');
  assert.match(refused.result.reason ?? '', /input\.signature: production has a signed approval gate, so an undeploy request must be signed by carol/);

  const printed = await deployctl([...stopArgs('undeploy', 'production', 'decommission'), '--by', 'carol', '--key', world.keyOf('carol')!, '--print']);
  assert.equal(printed.code, 0, show(printed));
  assert.match(printed.stderr, /signing with .*carol: carol requests undeploying hello-service from production from spec /);
  const command = printed.stdout.trim();
  assert.match(command, /^temporal workflow start --address \S+ --task-queue deploys --type undeployService --workflow-id deploy-hello-service-production --input '\{"spec":.*"action":"undeploy","requestedBy":"carol","reason":"decommission","requestedAt":"[^"]+","signature":"-----BEGIN SSH SIGNATURE-----/);
  const pasted = await execFileAsync('/bin/sh', ['-c', command], { env: { ...process.env, PATH: `${path.dirname(world.temporal.cli)}:${process.env.PATH}` } });
  assert.match(pasted.stdout, /Type\s+undeployService/);
  const signed = await world.outcome(world.client.workflow.getHandle('deploy-hello-service-production'));
  assert.equal(signed.status, 'succeeded', JSON.stringify(signed.result?.timeline, null, 1));
  assert.match(signed.result.timeline.find((e) => e.event.startsWith('undeploy requested by'))?.event ?? '', /^undeploy requested by carol \(signed, key SHA256:/);
  assert.match(signed.result.stages[1]?.summary ?? '', /no process was running \(no current release\); current removed; nothing was live in the registry/);

  // deployctl itself, signing with the key: waits for the outcome.
  const stop = await deployctl([...stopArgs('stop', 'production', 'incident 42'), '--by', 'carol', '--key', world.keyOf('carol')!]);
  assert.equal(stop.code, 0, show(stop));
  assert.match(stop.stdout, /stop hello-service in production: succeeded/, show(stop));
});

test('behind a front door (a canary): stop ends every release and empties the front door, keeping current; a deploy of it serves again; undeploy removes current', async (t) => {
  const haproxy = await haproxyForTests();
  if ('skip' in haproxy) {
    t.skip(haproxy.skip);
    return;
  }
  await world.updateSpec((spec) => {
    spec.environments.staging.strategy = { type: 'canary', steps: [{ setWeight: 50 }, { analysis: {} }], scaleDownDelaySeconds: 1 };
  });
  const frontDoor = new FrontDoor({ name: 'hello-service-staging', publicPort: world.ports.staging, directory: path.join(world.targetRoot('staging'), 'front-door') });
  // 1.1.0 runs on the port itself (replace until now): this deploy moves staging behind the front door.
  await deployAndWait('staging', '1.0.0');
  assert.equal((await world.get('staging', '/')).body.version, '1.0.0');
  const release = await currentRelease(world, 'staging');

  const stop = await deployctl(stopArgs('stop', 'staging', 'front door pause'));
  assert.equal(stop.code, 0, show(stop));
  const pid = Number(/✓ stop succeeded — pid (\d+) \(1\.0\.0-[0-9a-f]{12}\) stopped; current kept/.exec(stop.stdout)?.[1]);
  assert.ok(pid > 0, show(stop));
  assert.equal(await processExists(pid), false, `pid ${pid} is gone`);
  assert.equal(await currentRelease(world, 'staging'), release, 'current still names the release');
  assert.deepEqual((await frontDoor.status()).recorded, [], 'the front door serves nothing');
  assert.equal((await world.get('staging', '/')).status, 503, 'haproxy keeps the port and has no release to send to');

  const again = await deployAndWait('staging', '1.0.0');
  assert.match(again.planSummary, /^redeploy of 1\.0\.0/);
  assert.equal((await world.get('staging', '/')).body.version, '1.0.0', 'served again through the front door');

  const undeploy = await deployctl(stopArgs('undeploy', 'staging', 'retire the canary'));
  assert.equal(undeploy.code, 0, show(undeploy));
  assert.equal(await currentRelease(world, 'staging'), null, 'current is gone');
  assert.equal(await registry.live('hello-service', 'staging'), null);
  assert.deepEqual((await frontDoor.status()).recorded, []);
  assert.equal((await world.get('staging', '/')).status, 503);
});
