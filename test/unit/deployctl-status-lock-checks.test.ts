import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runDeployctl } from '../../src/cli/deployctl';
import { SA } from '../../src/workflows/definitions';
import { startWorkflowEnv, type WorkflowEnv } from './helpers/workflow-env';

// deployctl acts on a workflow ID only when its search attributes name the same service and environment,
// and says plainly when no worker polls a deploy's task queue (and how to free the lock).
let env: WorkflowEnv;
before(async () => {
  env = await startWorkflowEnv();
});
after(async () => {
  await env?.stop();
});

async function deployctl(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  let code = 0;
  await runDeployctl(argv, {
    io: { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false, rewrite: () => undefined },
    env: { TEMPORAL_ADDRESS: env.temporal.address, DEPLOY_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', PATH: process.env.PATH },
    cwd: process.cwd(),
    setExitCode: (c) => (code = c),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const startIdle = (workflowId: string, service: string, environment: string, taskQueue: string) =>
  env.client.workflow.start('deployRelease', {
    taskQueue,
    workflowId,
    args: [{}],
    typedSearchAttributes: [
      { key: SA.service, value: service },
      { key: SA.environment, value: environment },
      { key: SA.status, value: 'running' },
      { key: SA.stage, value: 'plan' },
    ],
  });

test('a lock ID shared by another (service, environment) pair is refused, naming the pair it belongs to', async () => {
  const other = await startIdle('deploy-hello-service-staging', 'hello', 'service-staging', 'nobody-polls-1');
  try {
    const r = await deployctl(['status', 'hello-service', '--env', 'staging']);
    assert.equal(r.code, 5);
    assert.match(r.err, /workflow deploy-hello-service-staging is the deploy of service hello to service-staging, not of hello-service to staging; nothing was done/);
  } finally {
    await other.terminate('test done');
  }
});

test('a deploy on a task queue no worker polls: status says so and prints the way out', async () => {
  const lonely = await startIdle('deploy-lonely-staging', 'lonely', 'staging', 'deploy-typo');
  try {
    const r = await deployctl(['status', 'lonely', '--env', 'staging']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /NO WORKER polls task queue "deploy-typo"/);
    assert.match(r.out, /DEPLOY_TASK_QUEUE=deploy-typo npm run worker/);
    assert.match(r.out, /temporal workflow terminate --workflow-id deploy-lonely-staging/);
    const ok = await deployctl(['status', 'lonely', '--env', 'staging', '--json']);
    assert.equal(JSON.parse(ok.out).pollers, 0);
  } finally {
    await lonely.terminate('test done');
  }
});
