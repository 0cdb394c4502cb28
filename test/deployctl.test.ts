import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startDeployWorld, REPO_ROOT, type DeployWorld } from './helpers/deploy-world';

/**
 * deployctl as operators run it: a real process (node --import tsx src/cli/deployctl.ts) against a real
 * Temporal dev server, an in-process worker and PostgreSQL. Tests run in order and build on each other:
 * staging 1.0.0 → 1.1.0 → 2.0.0 (rolled back) → production with approval → history → rollback.
 */

let world: DeployWorld;

before(async () => {
  world = await startDeployWorld();
  await world.startWorker();
});
after(async () => {
  await world?.cleanup();
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...world.workerEnv, TEMPORAL_UI_URL: 'http://ui.example:8233', USER: 'carol', ...extra };
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

/** Runs deployctl; `onStdout` may act on progress (e.g. send Ctrl-C). */
function deployctl(
  args: string[],
  o: { env?: Record<string, string | undefined>; onStdout?: (all: string, child: ReturnType<typeof spawn>) => void; timeoutMs?: number; tty?: boolean } = {},
): Promise<CliRun> {
  const argv = [process.execPath, '--import', 'tsx', path.join(REPO_ROOT, 'src/cli/deployctl.ts'), ...args];
  // tty: run inside a pseudo-terminal (util-linux `script`), as an operator at a terminal would.
  const [cmd, ...cmdArgs] = o.tty ? ['script', '-qfec', argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null'] : argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, cmdArgs, {
      cwd: REPO_ROOT,
      env: cliEnv(o.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`deployctl ${args.join(' ')} did not finish in time\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, o.timeoutMs ?? 240_000);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      o.onStdout?.(stdout, child);
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
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

async function deployWorkflowCount(): Promise<number> {
  let n = 0;
  for await (const _ of world.client.workflow.list({ query: 'WorkflowType="deployRelease"' })) n++;
  return n;
}

test('bad arguments exit 2 naming the option, and nothing is started', async () => {
  const spec = world.specPath;
  const cases: Array<{ args: string[]; env?: Record<string, string | undefined>; names: RegExp }> = [
    { args: ['deploy', spec, '--env', '../../etc', '--version', '1.0.0', '--by', 'carol'], names: /--env: "\.\.\/\.\.\/etc" must be lowercase letters/ },
    { args: ['deploy', spec, '--env', 'qa', '--version', '1.0.0', '--by', 'carol'], names: /--env: "qa" is not an environment of hello-service .*choose one of: staging, production/ },
    { args: ['deploy', spec, '--env', 'staging', '--version', '../1.0.0', '--by', 'carol'], names: /--version: "\.\.\/1\.0\.0" must/ },
    { args: ['deploy', spec, '--env', 'staging', '--version', '1.0.0'], env: { USER: undefined, LOGNAME: undefined }, names: /--by: not given and \$USER is not set/ },
    { args: ['deploy', spec, '--env', 'staging', '--version', '1.0.0', '--by', 'carol smith'], names: /--by: "carol smith" must be a login or email/ },
    { args: ['approve', 'hello-service', '--env', 'production'], names: /required option '--by <name>' not specified/ },
    { args: ['rollback', 'hello-service', '--env', 'staging', '--spec', spec, '--to', '1..0'], names: /--to: "1\.\.0" must not contain "\.\."/ },
    { args: ['intervene', 'hello-service', '--env', 'staging', '--by', 'alice', '--action', 'ignore'], names: /--action <action>' argument 'ignore' is invalid/ },
  ];
  for (const c of cases) {
    const r = await deployctl(c.args, { env: c.env });
    assert.equal(r.code, 2, `${c.args.join(' ')}\n${show(r)}`);
    assert.match(r.stderr, c.names, show(r));
  }
  assert.equal(await deployWorkflowCount(), 0, 'a refused command line must not start a workflow');
});

test('deploy --follow of 1.0.0 to staging exits 0 and prints the stages, IDs and the Web UI link', async () => {
  const r = await deployctl(['deploy', world.specPath, '--env', 'staging', '--version', '1.0.0', '--follow']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /workflow ID: deploy-hello-service-staging/);
  const runId = /run ID:\s+(\S+)/.exec(r.stdout)?.[1];
  assert.ok(runId, show(r));
  assert.ok(r.stdout.includes(`Web UI:      http://ui.example:8233/namespaces/default/workflows/deploy-hello-service-staging/${runId}/history`), show(r));
  for (const stage of ['build', 'preChecks', 'migrate', 'deploy', 'validate']) assert.match(r.stdout, new RegExp(`✓ +${stage} +succeeded`), show(r));
  assert.match(r.stdout, /hello-service 1\.0\.0 → staging: succeeded/);
  // Not a terminal: one progress line per change, never carriage-return rewrites.
  assert.ok(!r.stdout.includes('\r'), 'non-TTY output must not rewrite lines');
  assert.match(r.stdout, /^\[ *\d+\.\ds\] running: (plan|build|preChecks|migrate|deploy|validate)\b/m, 'a progress line with elapsed time and the stage');
  assert.match(r.stdout, /^\[ *\d+\.\ds\] ✓ build succeeded — artifact [0-9a-f]{12}/m);
  assert.equal((await world.get('staging', '/')).body.version, '1.0.0');
});

test('deploy --follow of known-bad 2.0.0 after 1.1.0 exits 10 (rolled_back) and 1.1.0 answers again', async () => {
  // At a terminal the progress line is rewritten in place (carriage return + erase line) instead of repeated.
  const good = await deployctl(['deploy', world.specPath, '--env', 'staging', '--version', '1.1.0', '--follow'], { tty: true });
  assert.equal(good.code, 0, show(good));
  assert.match(good.stdout, /\r\x1b\[2K\[ *\d+\.\ds\] running: /);
  assert.match(good.stdout, /hello-service 1\.1\.0 → staging: succeeded/);
  const bad = await deployctl(['deploy', world.specPath, '--env', 'staging', '--version', '2.0.0', '--follow', '--reason', 'rehearse the rollback']);
  assert.equal(bad.code, 10, show(bad));
  assert.match(bad.stdout, /hello-service 2\.0\.0 → staging: rolled_back/);
  assert.match(bad.stdout, /rollbackDeploy \(undoes deploy\): succeeded/);
  assert.match(bad.stdout, /✗ +validate +failed/);
  assert.equal((await world.get('staging', '/')).body.version, '1.1.0');
});

test('status --json of the last staging deploy parses and reports rolled_back', async () => {
  const r = await deployctl(['status', 'hello-service', '--env', 'staging', '--json']);
  assert.equal(r.code, 0, show(r));
  const s = JSON.parse(r.stdout);
  assert.equal(s.running, false);
  assert.equal(s.outcome.outcome, 'rolled_back');
  assert.equal(s.outcome.result.version, '2.0.0');
  assert.equal(s.searchAttributes.status, 'rolled_back');
  const text = await deployctl(['status', 'hello-service', '--env', 'staging']);
  assert.equal(text.code, 0, show(text));
  assert.match(text.stdout, /no deploy is running; the last one:\nhello-service 2\.0\.0 → staging: rolled_back/);
});

test('production waits at the gate: Ctrl-C stops following only; a second deploy exits 3; the requester (an approver) is refused; alice approves', async () => {
  let interrupted = false;
  const follow = await deployctl(['deploy', world.specPath, '--env', 'production', '--version', '1.1.0', '--by', 'bob', '--follow'], {
    onStdout: (all, child) => {
      if (!interrupted && /awaiting_approval: migrate — waiting for: approval before migrate/.test(all)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    },
  });
  assert.equal(follow.code, 130, show(follow));
  assert.match(follow.stdout, /stopped following .*the deploy continues in Temporal/);
  assert.match(follow.stdout, /approval gate before migrate: 1 from alice or bob/);
  const handle = world.client.workflow.getHandle('deploy-hello-service-production');
  assert.equal((await handle.describe()).status.name, 'RUNNING');

  const second = await deployctl(['deploy', world.specPath, '--env', 'production', '--version', '1.0.0', '--by', 'dave']);
  assert.equal(second.code, 3, show(second));
  assert.match(second.stderr, /already running as deploy-hello-service-production .*deployctl status hello-service --env production/);

  // bob is an approver, but he requested this deploy.
  const selfApproval = await deployctl(['approve', 'hello-service', '--env', 'production', '--by', 'bob']);
  assert.notEqual(selfApproval.code, 0, show(selfApproval));
  assert.equal(selfApproval.code, 4, show(selfApproval));
  assert.match(selfApproval.stderr, /approve refused by the deploy: bob requested this deploy and may not approve it; ask another approver/);
  const stranger = await deployctl(['approve', 'hello-service', '--env', 'production', '--by', 'mallory', '--json']);
  assert.equal(stranger.code, 4, show(stranger));
  assert.deepEqual(
    { accepted: JSON.parse(stranger.stdout).accepted, reason: JSON.parse(stranger.stdout).reason },
    { accepted: false, reason: 'mallory is not an approver for the gate before migrate (allowed: alice, bob)' },
  );

  const approval = await deployctl(['approve', 'hello-service', '--env', 'production', '--by', 'alice', '--comment', 'dashboards are green', '--json']);
  assert.equal(approval.code, 0, show(approval));
  const gate = JSON.parse(approval.stdout).gate;
  assert.equal(gate.decision, 'approved');
  assert.equal(gate.approvals[0].by, 'alice');
  assert.equal(gate.approvals[0].via, 'update');

  const { status } = await world.outcome(handle);
  assert.equal(status, 'succeeded');
  assert.equal((await world.get('production', '/')).body.version, '1.1.0');
});

test('reject stops a production deploy at the gate with the reason; status shows it; intervene is refused while nothing needs it', async () => {
  const start = await deployctl(['deploy', world.specPath, '--env', 'production', '--version', '1.0.0', '--by', 'dave', '--json']);
  assert.equal(start.code, 0, show(start));
  const started = JSON.parse(start.stdout);
  assert.equal(started.workflowId, 'deploy-hello-service-production');
  assert.equal(started.uiUrl, `http://ui.example:8233/namespaces/default/workflows/deploy-hello-service-production/${started.runId}/history`);
  const handle = world.client.workflow.getHandle(started.workflowId, started.runId);
  await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 120_000);

  const pending = await deployctl(['status', 'hello-service', '--env', 'production']);
  assert.equal(pending.code, 0, show(pending));
  assert.match(pending.stdout, /awaiting_approval \(stage migrate\)/);
  assert.match(pending.stdout, /gate before migrate: waiting — 0\/1 approval/);

  const notWaiting = await deployctl(['intervene', 'hello-service', '--env', 'production', '--by', 'bob', '--action', 'skip']);
  assert.equal(notWaiting.code, 4, show(notWaiting));
  assert.match(notWaiting.stderr, /not waiting for an intervention \(status awaiting_approval, stage migrate\)/);

  const reject = await deployctl(['reject', 'hello-service', '--env', 'production', '--by', 'bob', '--reason', 'not during the freeze']);
  assert.equal(reject.code, 0, show(reject));
  assert.match(reject.stdout, /rejected by bob at .*: not during the freeze/);
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'rejected');
  assert.match(result.reason ?? '', /rejected by bob: not during the freeze/);
  assert.equal((await world.get('production', '/')).body.version, '1.1.0');
});

test('history lists the deploys with outcomes, requesters, approvals and the live release', async () => {
  const r = await deployctl(['history', 'hello-service']);
  assert.equal(r.code, 0, show(r));
  const line = (version: string, env: string, outcome: string) =>
    r.stdout.split('\n').find((l) => l.includes(` ${env} `) && l.includes(` ${version} `) && l.includes(` ${outcome} `));
  assert.ok(line('1.0.0', 'staging', 'succeeded'), show(r));
  assert.ok(line('2.0.0', 'staging', 'rolled_back'), show(r));
  assert.match(line('1.1.0', 'staging', 'succeeded') ?? '', /● live/);
  assert.match(line('1.1.0', 'production', 'succeeded') ?? '', / bob +alice .*● live/);
  assert.match(line('1.0.0', 'production', 'rejected') ?? '', / dave /);

  const json = await deployctl(['history', 'hello-service', '--env', 'staging', '--json']);
  assert.equal(json.code, 0, show(json));
  const deploys = JSON.parse(json.stdout).deploys as Array<{ version: string; outcome: string; live: boolean; environment: string }>;
  assert.deepEqual(
    deploys.map((d) => `${d.environment} ${d.version} ${d.outcome}${d.live ? ' live' : ''}`),
    ['staging 2.0.0 rolled_back', 'staging 1.1.0 succeeded live', 'staging 1.0.0 succeeded'],
  );
});

test('rollback without --to picks the previous live version, reuses its artifact, and the service answers it', async () => {
  const r = await deployctl(['rollback', 'hello-service', '--env', 'staging', '--spec', world.specPath, '--by', 'carol', '--follow']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /rolling hello-service in staging back: 1\.1\.0 \(live since .*\) → 1\.0\.0/);
  assert.match(r.stdout, /rollback deploy of 1\.0\.0 \(live: 1\.1\.0\)/, 'the plan marks it a rollback');
  assert.match(r.stdout, /reused, not rebuilt/);
  assert.equal((await world.get('staging', '/')).body.version, '1.0.0');

  const json = await deployctl(['history', 'hello-service', '--env', 'staging', '--limit', '1', '--json']);
  const [latest] = JSON.parse(json.stdout).deploys;
  assert.deepEqual({ version: latest.version, outcome: latest.outcome, live: latest.live }, { version: '1.0.0', outcome: 'succeeded', live: true });

  for (const to of ['9.9.9', '2.0.0']) {
    // 9.9.9 never ran here; 2.0.0 went live and was rolled back: neither is a proven release to go back to.
    const refused = await deployctl(['rollback', 'hello-service', '--env', 'staging', '--spec', world.specPath, '--to', to]);
    assert.equal(refused.code, 2, show(refused));
    assert.match(refused.stderr, new RegExp(`--to: ${to.replace(/\./g, '\\.')} never served hello-service in staging .*versions you can roll back to: 1\\.1\\.0\\)`));
  }
  assert.equal((await world.get('staging', '/')).body.version, '1.0.0', 'a refused rollback changes nothing');
});

test('intervene and approve on a deploy that is not waiting are refused with what to do', async () => {
  const r = await deployctl(['approve', 'hello-service', '--env', 'staging', '--by', 'alice']);
  assert.equal(r.code, 5, show(r));
  assert.match(r.stderr, /no deploy of hello-service to staging is running: the last one .* ended succeeded; nothing to approve/);
  const intervene = await deployctl(['intervene', 'hello-service', '--env', 'staging', '--by', 'alice', '--action', 'retry']);
  assert.equal(intervene.code, 5, show(intervene));
  assert.match(intervene.stderr, /no deploy of hello-service to staging is running .*nothing to intervene in/);
  const missing = await deployctl(['status', 'other-service', '--env', 'staging']);
  assert.equal(missing.code, 5, show(missing));
  assert.match(missing.stderr, /no deploy of other-service to staging was found/);
});
