import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import { STAGE_WAIT_MS } from './helpers/workflow-probes';

let world: DeployWorld;

before(async () => {
  world = await startDeployWorld();
});
after(async () => {
  await world?.cleanup();
});

function healthPort(child: ChildProcess): number {
  const m = /health on http:\/\/127\.0\.0\.1:(\d+)\/readyz/.exec(world.workerOutput(child));
  assert.ok(m, `no health port in the worker's output:\n${world.workerOutput(child)}`);
  return Number(m[1]);
}

/** The identities polling the deploys queue for workflow tasks, as the server reports them. */
async function workflowPollers(): Promise<string[]> {
  const res = await world.client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: 'deploys' },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
  });
  return (res.pollers ?? []).map((p) => p.identity ?? '');
}

test('two workers with the default health port both start and poll: the second takes the next free port and says so', async () => {
  // WORKER_HEALTH_PORT unset: the default (8091), which gives way when busy.
  const first = await world.spawnWorker({ WORKER_HEALTH_PORT: undefined });
  const second = await world.spawnWorker({ WORKER_HEALTH_PORT: undefined });
  const [p1, p2] = [healthPort(first), healthPort(second)];
  assert.notEqual(p1, p2);
  assert.ok(p1 >= 8091 && p2 >= 8091, `ports ${p1}, ${p2} are the default or after it`);
  assert.match(world.workerOutput(second), /default port 8091 is in use \(another worker\?\); serving health and metrics on \d+ instead — set WORKER_HEALTH_PORT to choose the port/);
  for (const p of [p1, p2]) {
    const ready = await fetch(`http://127.0.0.1:${p}/readyz`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(ready.status, 200, `worker on ${p}: ${await ready.text()}`);
  }

  const deadline = Date.now() + STAGE_WAIT_MS;
  let identities: string[] = [];
  while (Date.now() < deadline) {
    identities = await workflowPollers();
    if ([first, second].every((c) => identities.some((id) => id.startsWith(`${c.pid}@`)))) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const c of [first, second]) assert.ok(identities.some((id) => id.startsWith(`${c.pid}@`)), `worker pid ${c.pid} is not polling; pollers: ${identities.join(', ')}`);

});

test('a busy health port set explicitly stops the worker with an error naming WORKER_HEALTH_PORT', async () => {
  const first = await world.spawnWorker({ WORKER_HEALTH_PORT: undefined });
  const busy = healthPort(first);
  const child = spawn(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(REPO_ROOT, 'src/worker/main.ts')], {
    cwd: world.dataDir,
    env: { ...process.env, ...world.workerEnv, WORKER_HEALTH_PORT: String(busy) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close' comes after both streams ended, so the output is complete.
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  assert.equal(code, 2, `stdout:\n${stdout}\nstderr:\n${stderr}`);
  assert.match(stderr, new RegExp(`WORKER_HEALTH_PORT: port ${busy} on 127\\.0\\.0\\.1 is in use .*set WORKER_HEALTH_PORT to a free port, or unset it`));
  assert.doesNotMatch(stdout, /worker ready/);
  assert.equal((await fetch(`http://127.0.0.1:${busy}/readyz`, { signal: AbortSignal.timeout(10_000) })).status, 200, 'the worker holding the port is untouched');
});
