import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decisionStatementFor } from '../src/client/signing';
import { renderRequestStatement } from '../src/trust/statement';
import { startDeployWorld, REPO_ROOT, type DeployWorld } from './helpers/deploy-world';
import { run, tempDir } from './helpers/ssh-signatures';

/**
 * deployctl as operators run it: a real process (node --import tsx src/cli/deployctl.ts) against a real
 * Temporal dev server, an in-process worker, PostgreSQL, ssh-keygen and ssh-agent. Tests run in order and
 * build on each other: staging 1.0.0 → 1.1.0 → 2.0.0 (rolled back) → production with signed approval →
 * history → rollback. Production's gate is signed: requests and decisions carry the demo keys' signatures.
 */

let world: DeployWorld;
let scratch: string;
const agents: ChildProcess[] = [];

before(async () => {
  world = await startDeployWorld();
  await world.startWorker();
  scratch = await tempDir('deployctl-test');
});
after(async () => {
  for (const agent of agents) if (agent.exitCode === null) agent.kill('SIGTERM');
  await world?.cleanup();
  if (scratch) await fs.rm(scratch, { recursive: true, force: true });
});

const key = (name: string) => {
  const file = world.keyOf(name);
  assert.ok(file, `no demo key for ${name}`);
  return file;
};

/** The key's fingerprint as `ssh-keygen -lf` prints it (SHA256:…): what an operator compares. */
async function fingerprintOf(name: string): Promise<string> {
  const r = await run('ssh-keygen', ['-lf', `${key(name)}.pub`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split(' ')[1]!;
}

/** A real ssh-agent holding `name`'s key; returns its SSH_AUTH_SOCK. */
async function agentHolding(name: string): Promise<string> {
  const socket = path.join(await fs.mkdtemp(path.join(scratch, 'agent-')), 'sock');
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  agents.push(agent);
  for (let i = 0; i < 200 && !(await fs.stat(socket).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 50));
  const added = await run('ssh-add', [key(name)], undefined, { ...process.env, SSH_AUTH_SOCK: socket });
  assert.equal(added.code, 0, added.stderr);
  return socket;
}

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
    { args: ['deploy', spec, '--env', 'qa', '--version', '1.0.0', '--by', 'carol'], names: /--env: "qa" is not an environment of hello-service .*choose one of: staging, production, fleet/ },
    { args: ['deploy', spec, '--env', 'staging', '--version', '../1.0.0', '--by', 'carol'], names: /--version: "\.\.\/1\.0\.0" must/ },
    { args: ['deploy', spec, '--env', 'staging', '--version', '1.0.0'], env: { USER: 'carol smith' }, names: /--by: "carol smith" must be a login or email .*\(taken from \$USER; pass --by <your login>\)/ },
    { args: ['deploy', spec, '--env', 'staging', '--version', '1.0.0', '--by', 'carol smith'], names: /--by: "carol smith" must be a login or email/ },
    // production's gate is signed: an unsigned request is refused before anything starts, saying how to sign
    { args: ['deploy', spec, '--env', 'production', '--version', '1.0.0', '--by', 'carol'], names: /--key: production has a signed approval gate \(before migrate\), so the deploy request must be signed by carol's key .*deployctl statement hello-service --env production --request/ },
    { args: ['approve', 'hello-service', '--env', 'production', '--by', 'alice', '--key', ''], names: /--key: "" must be the path of an SSH private key/ },
    { args: ['approve', 'hello-service', '--env', 'production', '--print', '--print-update'], names: /--print and --print-update: choose one/ },
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

test('production waits at the signed gate: Ctrl-C stops following only; a second deploy exits 3; refusals say why; alice approves with her key', async () => {
  let interrupted = false;
  const follow = await deployctl(['deploy', world.specPath, '--env', 'production', '--version', '1.1.0', '--by', 'bob', '--key', key('bob'), '--follow'], {
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
  assert.match(follow.stderr, /signing with .*bob: bob requests hello-service 1\.1\.0 in production/);
  const handle = world.client.workflow.getHandle('deploy-hello-service-production');
  assert.equal((await handle.describe()).status.name, 'RUNNING');

  const second = await deployctl(['deploy', world.specPath, '--env', 'production', '--version', '1.0.0', '--by', 'carol', '--key', key('carol')]);
  assert.equal(second.code, 3, show(second));
  assert.match(second.stderr, /already running as deploy-hello-service-production .*deployctl status hello-service --env production/);

  // A forged approval (no signature) through the signal: refused, recorded, and shown by status.
  await handle.signal('approve', { by: 'alice', comment: 'forged' });
  await world.waitForStatus(handle, (s) => s.timeline.some((e) => e.kind === 'signal_refused'));
  const refusedStatus = await deployctl(['status', 'hello-service', '--env', 'production']);
  assert.equal(refusedStatus.code, 0, show(refusedStatus));
  assert.match(refusedStatus.stdout, /⚠ 1 decision\(s\) REFUSED by the deploy:\n +\S+ +approve by alice refused — approve before migrate must be signed by alice's key/);
  assert.match(refusedStatus.stdout, /gate before migrate: waiting — 0\/1 approval\(s\), approvers alice, bob, decisions must be signed/);
  const refusedJson = JSON.parse((await deployctl(['status', 'hello-service', '--env', 'production', '--json'])).stdout);
  assert.equal(refusedJson.refusedDecisions.count, 1);

  // bob is an approver, but he requested this deploy.
  const selfApproval = await deployctl(['approve', 'hello-service', '--env', 'production', '--by', 'bob', '--key', key('bob')]);
  assert.equal(selfApproval.code, 4, show(selfApproval));
  assert.match(selfApproval.stderr, /approve refused by the deploy: bob requested this deploy and may not approve it; ask another approver/);
  const stranger = await deployctl(['approve', 'hello-service', '--env', 'production', '--by', 'mallory', '--json']);
  assert.equal(stranger.code, 4, show(stranger));
  assert.deepEqual(
    { accepted: JSON.parse(stranger.stdout).accepted, reason: JSON.parse(stranger.stdout).reason },
    { accepted: false, reason: 'mallory is not an approver for the gate before migrate (allowed: alice, bob)' },
  );
  // Without --key at a signed gate: nothing is sent, and the message says what to do.
  const noKey = await deployctl(['approve', 'hello-service', '--env', 'production', '--by', 'alice']);
  assert.equal(noKey.code, 2, show(noKey));
  assert.match(noKey.stderr, /--key: the gate before migrate accepts only signed decisions: alice's approve counts only with a signature by alice's key/);
  assert.match(noKey.stderr, /Pass --key <your private key> \(or its \.pub when the key is loaded in ssh-agent\).*deployctl statement hello-service --env production --decision approve --by alice/);
  // Someone else's key: the workflow refuses the signature (exit 4), naming the key by fingerprint.
  const wrongKey = await deployctl(['approve', 'hello-service', '--env', 'production', '--by', 'alice', '--key', key('bob')]);
  assert.equal(wrongKey.code, 4, show(wrongKey));
  assert.match(wrongKey.stderr, /approve refused by the deploy: signature refused: .*SHA256:/);
  const missingKey = await deployctl(['approve', 'hello-service', '--env', 'production', '--by', 'alice', '--key', path.join(scratch, 'nope')]);
  assert.equal(missingKey.code, 7, show(missingKey));
  assert.match(missingKey.stderr, /could not sign, nothing was sent: the key file .*nope does not exist/);
  assert.equal((await world.status(handle)).pendingGate?.given, 0, 'refusals leave the gate waiting');

  const approval = await deployctl(['approve', 'hello-service', '--env', 'production', '--by', 'alice', '--key', key('alice'), '--comment', 'dashboards are green', '--json']);
  assert.equal(approval.code, 0, show(approval));
  const answer = JSON.parse(approval.stdout);
  assert.equal(answer.signed, true);
  const gate = answer.gate;
  assert.equal(gate.decision, 'approved');
  assert.equal(gate.approvals[0].by, 'alice');
  assert.equal(gate.approvals[0].via, 'update');
  assert.equal(gate.approvals[0].signature.signer, 'alice');
  assert.equal(gate.approvals[0].signature.fingerprint, await fingerprintOf('alice'));
  assert.match(gate.approvals[0].signature.statement, /^deploy-orchestrator decision v1\n(.*\n)*decision: approve\nsigner: alice\n$/);

  const { status } = await world.outcome(handle);
  assert.equal(status, 'succeeded');
  assert.equal((await world.get('production', '/')).body.version, '1.1.0');
  const done = await deployctl(['status', 'hello-service', '--env', 'production']);
  assert.match(done.stdout, new RegExp(`approvals:\\n +alice at \\S+ via update \\("dashboards are green"\\)\\n +signed by alice with key ${(await fingerprintOf('alice')).replace(/[+/]/g, '\\$&')} \\(ssh-ed25519\\): approve hello-service 1\\.1\\.0 → production at migrate \\(artifact [0-9a-f]{12}…, run [0-9a-f-]{8}…\\)`), show(done));
  assert.match(done.stdout, /⚠ 1 decision\(s\) REFUSED by the deploy/, 'the refusal stays in the record');
});

test('reject with a key held by ssh-agent (--key <.pub>) stops a production deploy; status shows it; intervene is refused while nothing needs it', async () => {
  const start = await deployctl(['deploy', world.specPath, '--env', 'production', '--version', '1.0.0', '--by', 'carol', '--key', key('carol'), '--json']);
  assert.equal(start.code, 0, show(start));
  const started = JSON.parse(start.stdout);
  assert.equal(started.workflowId, 'deploy-hello-service-production');
  assert.equal(started.uiUrl, `http://ui.example:8233/namespaces/default/workflows/deploy-hello-service-production/${started.runId}/history`);
  assert.match(started.input.requestedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.match(started.input.signature, /^-----BEGIN SSH SIGNATURE-----\n/);
  const handle = world.client.workflow.getHandle(started.workflowId, started.runId);
  await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 120_000);

  const pending = await deployctl(['status', 'hello-service', '--env', 'production']);
  assert.equal(pending.code, 0, show(pending));
  assert.match(pending.stdout, /awaiting_approval \(stage migrate\)/);
  assert.match(pending.stdout, /gate before migrate: waiting — 0\/1 approval/);
  assert.match(pending.stdout, /decide with: deployctl approve\|reject hello-service --env production --by <you> --key/);
  assert.doesNotMatch(pending.stdout, /REFUSED/);

  const notWaiting = await deployctl(['intervene', 'hello-service', '--env', 'production', '--by', 'bob', '--action', 'skip']);
  assert.equal(notWaiting.code, 4, show(notWaiting));
  assert.match(notWaiting.stderr, /not waiting for an intervention \(status awaiting_approval, stage migrate\)/);

  // Without the agent the .pub alone cannot sign (exit 7, nothing sent); with it, it does.
  const noAgent = await deployctl(['reject', 'hello-service', '--env', 'production', '--by', 'bob', '--key', `${key('bob')}.pub`], { env: { SSH_AUTH_SOCK: undefined } });
  assert.equal(noAgent.code, 7, show(noAgent));
  assert.match(noAgent.stderr, /public key, so its private half must be loaded in ssh-agent, but SSH_AUTH_SOCK is not set/);
  const socket = await agentHolding('bob');
  const reject = await deployctl(['reject', 'hello-service', '--env', 'production', '--by', 'bob', '--key', `${key('bob')}.pub`, '--reason', 'not during the freeze'], { env: { SSH_AUTH_SOCK: socket } });
  assert.equal(reject.code, 0, show(reject));
  assert.match(reject.stdout, /rejected hello-service → production as bob \(signed\)/);
  assert.match(reject.stdout, new RegExp(`rejected by bob at .*: not during the freeze\\n +signed by bob with key ${(await fingerprintOf('bob')).replace(/[+/]/g, '\\$&')} \\(ssh-ed25519\\): reject hello-service 1\\.0\\.0 → production at migrate`));
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
  assert.match(line('1.0.0', 'production', 'rejected') ?? '', / carol /);

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

test('signed elsewhere: the bytes deployctl statement prints, signed with ssh-keygen, start a deploy and approve it', async () => {
  const specArg = world.specPath;
  const at = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const request = await deployctl(['statement', 'hello-service', '--env', 'production', '--request', '--version', '1.0.0', '--by', 'carol', '--spec', specArg, '--at', at]);
  assert.equal(request.code, 0, show(request));
  const expected = renderRequestStatement({ workflowId: 'deploy-hello-service-production', service: 'hello-service', environment: 'production', version: '1.0.0', spec: specArg, requestedBy: 'carol', requestedAt: at });
  assert.equal(request.stdout, expected, 'stdout is the statement and nothing else');
  const requestFile = path.join(scratch, 'request.txt');
  await fs.writeFile(requestFile, request.stdout);
  const signedRequest = await run('ssh-keygen', ['-Y', 'sign', '-n', 'deploy', '-f', key('carol'), requestFile]);
  assert.equal(signedRequest.code, 0, signedRequest.stderr);
  const input = { spec: specArg, environment: 'production', version: '1.0.0', requestedBy: 'carol', requestedAt: at, signature: await fs.readFile(`${requestFile}.sig`, 'utf8') };
  const handle = await world.client.workflow.start('deployRelease', { taskQueue: 'deploys', workflowId: 'deploy-hello-service-production', args: [input] });
  const waiting = await world.waitForStatus(handle, (s) => s.status !== 'running', 120_000);
  assert.equal(waiting.status, 'awaiting_approval', JSON.stringify(waiting.timeline));

  const decision = await deployctl(['statement', 'hello-service', '--env', 'production', '--decision', 'approve', '--by', 'alice']);
  assert.equal(decision.code, 0, show(decision));
  assert.equal(decision.stdout, decisionStatementFor(waiting.pendingGate!.sign!, 'approve', 'alice'));
  assert.match(decision.stderr, /this statement says: alice approves hello-service 1\.0\.0 for production at stage migrate/);
  const decisionFile = path.join(scratch, 'approve.txt');
  await fs.writeFile(decisionFile, decision.stdout);
  const signed = await run('ssh-keygen', ['-Y', 'sign', '-n', 'deploy', '-f', key('alice'), decisionFile]);
  assert.equal(signed.code, 0, signed.stderr);
  const update = await run(world.temporal.cli, [
    'workflow', 'update', 'execute', '--address', world.temporal.address, '--workflow-id', 'deploy-hello-service-production', '--name', 'approval',
    '--input', JSON.stringify({ decision: 'approve', by: 'alice', signature: await fs.readFile(`${decisionFile}.sig`, 'utf8') }),
  ]);
  assert.equal(update.code, 0, `${update.stdout}\n${update.stderr}`);
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result?.timeline));
  assert.equal(result.approvals[0]?.signature?.fingerprint, await fingerprintOf('alice'));

  const nothing = await deployctl(['statement', 'hello-service', '--env', 'production', '--decision', 'approve', '--by', 'alice']);
  assert.equal(nothing.code, 5, show(nothing));
  assert.equal(nothing.stdout, '');
});

test('intervene in a failed rollback: only an operator, only signed (--key, or the --print command); status shows the signed retry', async () => {
  // A signed gate before validate holds 2.0.0 after it deployed; taking the live release's directory away
  // then makes the rollback fail for real, and the deploy waits in needs_intervention.
  await world.updateSpec((spec) => {
    spec.environments.staging.gates = [{ before: 'validate', approvers: ['alice', 'bob'], quorum: 1, requesterMayApprove: false, timeoutMinutes: 60, onTimeout: 'reject' }];
  });
  const live = (await world.get('staging', '/')).body.version as string;
  const handle = await world.deploy({ environment: 'staging', version: '2.0.0', requestedBy: 'carol' });
  try {
    await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval' && s.stage === 'validate', 120_000);
    const releases = path.join(world.targetRoot('staging'), 'releases');
    const liveDir = (await fs.readdir(releases)).find((d) => d.startsWith(`${live}-`));
    assert.ok(liveDir, `the release directory of ${live}`);
    const heldAway = path.join(scratch, `held-away-${liveDir}`);
    await fs.rename(path.join(releases, liveDir), heldAway);
    await world.approve(handle, 'alice');
    const stuck = await world.waitForStatus(handle, (s) => s.status === 'needs_intervention', 120_000);
    assert.deepEqual(stuck.pendingIntervention?.operators, ['alice', 'bob']);
    assert.equal(stuck.pendingIntervention?.signed, true);

    const status = await deployctl(['status', 'hello-service', '--env', 'staging']);
    assert.match(status.stdout, /needs intervention since .*: rollbackDeploy failed/);
    assert.match(status.stdout, /decide with: deployctl intervene hello-service --env staging --by <you> --action retry\|skip\|abort --key <your private key> \(operators: alice, bob; signed\)/);

    const stranger = await deployctl(['intervene', 'hello-service', '--env', 'staging', '--by', 'mallory', '--action', 'skip']);
    assert.equal(stranger.code, 4, show(stranger));
    assert.match(stranger.stderr, /mallory is not an operator of staging \(allowed: alice, bob\)/);
    const noKey = await deployctl(['intervene', 'hello-service', '--env', 'staging', '--by', 'bob', '--action', 'abort']);
    assert.equal(noKey.code, 2, show(noKey));
    assert.match(noKey.stderr, /--key: this deploy accepts only signed interventions: bob's abort counts only with a signature by bob's key/);
    const printed = await deployctl(['intervene', 'hello-service', '--env', 'staging', '--by', 'bob', '--action', 'retry', '--key', key('bob'), '--print']);
    assert.equal(printed.code, 0, show(printed));
    assert.match(printed.stdout, /^temporal workflow signal --address \S+ --workflow-id deploy-hello-service-staging --name intervene --input '\{"by":"bob","action":"retry","signature":"-----BEGIN SSH SIGNATURE-----\\n[^']+-----END SSH SIGNATURE-----\\n"\}'\n$/);
    assert.equal((await world.status(handle)).status, 'needs_intervention', '--print sends nothing');

    await fs.rename(heldAway, path.join(releases, liveDir));
    const retry = await deployctl(['intervene', 'hello-service', '--env', 'staging', '--by', 'alice', '--action', 'retry', '--key', key('alice'), '--comment', 'release directory restored']);
    assert.equal(retry.code, 0, show(retry));
    assert.match(retry.stdout, new RegExp(`retry by alice \\(signed, key ${(await fingerprintOf('alice')).replace(/[+/]/g, '\\$&')}\\) accepted for rollbackDeploy`));
    const { status: outcome, result } = await world.outcome(handle);
    assert.equal(outcome, 'rolled_back', JSON.stringify(result?.timeline));
    assert.equal((await world.get('staging', '/')).body.version, live);
    const done = await deployctl(['status', 'hello-service', '--env', 'staging']);
    assert.match(done.stdout, /rollbackDeploy \(undoes deploy\): retried by alice\n +signed by alice with key SHA256:\S+ \(ssh-ed25519\): intervene:retry hello-service 2\.0\.0 → staging at rollbackDeploy/);
  } finally {
    await world.updateSpec((spec) => {
      delete spec.environments.staging.gates;
    });
    await handle.terminate('test cleanup').catch(() => undefined);
  }
});
