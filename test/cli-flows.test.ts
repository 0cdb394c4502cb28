import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { REPO_ROOT, startDeployWorld, type DeployWorld } from './helpers/deploy-world';

/**
 * Every Temporal CLI command of docs/cli-commands.md (the README's daily flows) is run here against a world
 * with a worker, with the real `temporal` binary and only `--address` added; each command's output is
 * checked. Unsigned commands run exactly as written. A signed command cannot be written ahead of time (its
 * signature binds one request or one run), so the command `deployctl … --print` prints is compared word for
 * word with the documented one (only the signature and a request's time may differ) and then run, as
 * pasted, through a shell.
 */

const execFileAsync = promisify(execFile);
const DOC = path.join(REPO_ROOT, 'docs/cli-commands.md');
const CONTRACT_SPEC = 'examples/hello-service/deploy.yaml';

let world: DeployWorld;
let commands: Map<string, string[]>;
const ran = new Set<string>();

before(async () => {
  commands = parseCommandDoc(await fs.readFile(DOC, 'utf8'));
  // A service that boots slowly on a busy machine must not look unhealthy: 3 s of refused connections are
  // tolerated; the known-bad 2.0.0 still fails within seconds (its /readyz answers 503).
  world = await startDeployWorld({
    specOverrides: (spec) => {
      spec.health = { ...spec.health, intervalMs: 250, windowMs: 20_000, consecutiveSuccesses: 4, maxConsecutiveFailures: 12 };
    },
  });
  // The contract's input names the spec relative to the worker's working directory (the world's data dir).
  // Its allowed_signers (the demo keys' public halves) sits next to it, as in the repository.
  const contractSpec = path.join(world.dataDir, CONTRACT_SPEC);
  await fs.mkdir(path.dirname(contractSpec), { recursive: true });
  await fs.copyFile(world.specPath, contractSpec);
  await fs.copyFile(path.join(world.dataDir, world.spec.trust.allowedSigners), path.join(path.dirname(contractSpec), world.spec.trust.allowedSigners));
  await world.startWorker();
});
after(async () => {
  await world?.cleanup();
});

/** `<!-- cli: id -->` followed by a ```sh block → argv (single quotes and backslash-newlines as a shell reads them). */
function parseCommandDoc(markdown: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const block = /<!-- cli: ([a-z-]+) -->[\s\S]*?```sh\n([\s\S]*?)```/g;
  for (const match of markdown.matchAll(block)) {
    assert.ok(!found.has(match[1]!), `docs/cli-commands.md: the id ${match[1]} is used twice`);
    found.set(match[1]!, shellWords(match[2]!.replace(/\\\n/g, ' ')));
  }
  return found;
}

function shellWords(line: string): string[] {
  const words: string[] = [];
  let current: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      assert.ok(end > i, `unterminated quote in: ${line}`);
      current = (current ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (/\s/.test(ch)) {
      if (current !== undefined) words.push(current);
      current = undefined;
    } else {
      assert.ok(!'"$`\\;&|<>'.includes(ch), `docs/cli-commands.md uses ${ch}, which this reader does not interpret: ${line}`);
      current = (current ?? '') + ch;
    }
  }
  if (current !== undefined) words.push(current);
  return words;
}

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  argv: string[];
}

/** Runs the documented command `id` with the world's binary and address, optionally replacing flag values. */
async function runDocumented(id: string, replace: Record<string, string> = {}): Promise<CliRun> {
  const argv = commands.get(id);
  assert.ok(argv, `docs/cli-commands.md has no command "${id}"`);
  assert.equal(argv[0], 'temporal');
  ran.add(id);
  const args = argv.slice(1);
  for (const [flag, value] of Object.entries(replace)) {
    const at = args.indexOf(flag);
    assert.ok(at >= 0, `${id} has no ${flag}`);
    args[at + 1] = value;
  }
  // Subcommand words come first; --address goes right after them, as an operator would add it.
  const firstFlag = args.findIndex((a) => a.startsWith('-'));
  args.splice(firstFlag, 0, '--address', world.temporal.address);
  try {
    const { stdout, stderr } = await execFileAsync(world.temporal.cli, args, { timeout: 60_000 });
    return { code: 0, stdout, stderr, argv: args };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '', argv: args };
  }
}

const show = (r: CliRun) => `temporal ${r.argv.join(' ')}\nexit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

const ARMORED = /^-----BEGIN SSH SIGNATURE-----\n[A-Za-z0-9+/=\n]+\n-----END SSH SIGNATURE-----\n$/;

/**
 * Runs `deployctl <args> --print --json` as an operator would (in the worker's directory, where the contract's
 * spec path resolves), checks that the command it prints is the documented command `id` but for the
 * signature (and a request's time), then runs the printed line through a shell, exactly as pasted.
 */
async function runPrinted(id: string, deployctlArgs: string[]): Promise<CliRun> {
  const documented = commands.get(id);
  assert.ok(documented, `docs/cli-commands.md has no command "${id}"`);
  ran.add(id);
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  let printed: { command: string; argv: string[] };
  try {
    const { stdout } = await execFileAsync(process.execPath, ['--import', tsx, path.join(REPO_ROOT, 'src/cli/deployctl.ts'), ...deployctlArgs, '--json'], {
      cwd: world.dataDir,
      env: { ...process.env, ...world.workerEnv },
      timeout: 120_000,
    });
    printed = JSON.parse(stdout);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`deployctl ${deployctlArgs.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
  // The printed line, read back as a shell reads it, is the argv deployctl meant.
  assert.deepEqual(shellWords(printed.command), printed.argv);
  const words = [...printed.argv];
  const at = words.indexOf('--address');
  assert.ok(at > 0 && words[at + 1] === world.temporal.address, `deployctl names the server it talks to: ${printed.command}`);
  words.splice(at, 2);
  const docInput = documented.indexOf('--input');
  assert.deepEqual(words.map((w, i) => (i === docInput + 1 ? '<input>' : w)), documented.map((w, i) => (i === docInput + 1 ? '<input>' : w)), `deployctl prints the documented command ${id}`);
  const ours = JSON.parse(words[docInput + 1]!) as Record<string, string>;
  const doc = JSON.parse(documented[docInput + 1]!) as Record<string, string>;
  assert.deepEqual(Object.keys(ours), Object.keys(doc), `${id}: the input's fields, in order`);
  for (const [field, value] of Object.entries(doc)) {
    if (field === 'signature') assert.match(ours.signature!, ARMORED);
    else if (field === 'requestedAt') assert.match(ours.requestedAt!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    else assert.equal(ours[field], value, `${id}: input.${field}`);
  }
  // Pasted into a shell where `temporal` is the world's binary.
  const env = { ...process.env, PATH: `${path.dirname(world.temporal.cli)}:${process.env.PATH}` };
  try {
    const { stdout, stderr } = await execFileAsync('/bin/sh', ['-c', printed.command], { env, timeout: 60_000 });
    return { code: 0, stdout, stderr, argv: printed.argv.slice(1) };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '', argv: printed.argv.slice(1) };
  }
}

const keyOf = (name: string) => {
  const key = world.keyOf(name);
  assert.ok(key, `no demo key for ${name}`);
  return key;
};

async function refusals(handle: WorkflowHandle): Promise<string[]> {
  return (await world.status(handle)).timeline.filter((e) => e.kind === 'signal_refused').map((e) => `${e.event}: ${e.detail ?? ''}`);
}

async function productionDeployAtGate(version: string, requestedBy = 'carol'): Promise<WorkflowHandle> {
  const handle = await world.deploy({ environment: 'production', version, requestedBy });
  await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 120_000);
  return handle;
}

async function poll<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

let stagingRunId = '';

test('workflow start (the contract\'s exact command) deploys 1.1.0 to staging', async () => {
  const r = await runDocumented('start');
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /WorkflowId\s+deploy-hello-service-staging/, show(r));
  assert.match(r.stdout, /Type\s+deployRelease/, show(r));
  const runId = /RunId\s+(\S+)/.exec(r.stdout)?.[1];
  assert.ok(runId, show(r));
  const { status, result } = await world.outcome(world.client.workflow.getHandle('deploy-hello-service-staging', runId));
  assert.equal(status, 'succeeded', JSON.stringify(result?.timeline, null, 1));
  assert.equal((await world.get('staging', '/')).body.version, '1.1.0');
});

test('after a known-bad 2.0.0: workflow list by search attributes, describe and show --output json', async () => {
  const handle = await world.deploy({ environment: 'staging', version: '2.0.0' });
  const { status } = await world.outcome(handle);
  assert.equal(status, 'rolled_back');
  const runId = (await handle.describe()).runId;
  stagingRunId = runId;

  // Visibility is eventually consistent: the close may reach the list a moment after the result.
  const listed = await poll('the rolled-back deploy in workflow list', async () => {
    const r = await runDocumented('list-rolled-back');
    assert.equal(r.code, 0, show(r));
    return r.stdout.includes(runId) || r.stdout.includes('deploy-hello-service-staging') ? r : undefined;
  });
  assert.match(listed.stdout, /Failed\s+deploy-hello-service-staging\s+deployRelease/i, show(listed));
  assert.doesNotMatch(listed.stdout, /deploy-hello-service-production/, 'only rolled-back deploys are listed');

  const described = await runDocumented('describe');
  assert.equal(described.code, 0, show(described));
  assert.match(described.stdout, new RegExp(runId), show(described));
  for (const [name, value] of [
    ['DeployService', 'hello-service'],
    ['DeployEnvironment', 'staging'],
    ['DeployVersion', '2.0.0'],
    ['DeployStatus', 'rolled_back'],
    ['DeployRequestedBy', 'carol'],
    ['DeployStage', 'done'],
  ]) {
    // The text form prints each attribute as its payload: DeployStatus:metadata:{…} data:"\"rolled_back\"".
    assert.match(described.stdout, new RegExp(`${name}:metadata:[^\\]]*?data:"\\\\"${value.replace(/\./g, '\\.')}\\\\""`), `${name}=${value} in:\n${show(described)}`);
  }

  const shown = await runDocumented('show-history');
  assert.equal(shown.code, 0, show(shown));
  const history = JSON.parse(shown.stdout) as { events: Array<Record<string, any>> };
  const activities = history.events
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name as string | undefined)
    .filter((name): name is string => Boolean(name));
  assert.deepEqual(activities, ['plan', 'build', 'preChecks', 'migrate', 'deploy', 'validate', 'rollbackDeploy', 'recordRelease']);
  const closed = history.events.at(-1)!;
  assert.equal(closed.eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');
  assert.equal(closed.workflowExecutionFailedEventAttributes.failure.applicationFailureInfo.type, 'Deploy_rolled_back');
});

test('workflow query status, then update approval: refused (non-zero, with the reason) unless signed by an approver, then accepted', async () => {
  // alice requests this one (signed with her key), so her own approval must be refused.
  const handle = await productionDeployAtGate('1.1.0', 'alice');

  const q = await runDocumented('query-status');
  assert.equal(q.code, 0, show(q));
  const view = JSON.parse(q.stdout.slice(q.stdout.indexOf('{'))) as Record<string, any>;
  assert.equal(view.status, 'awaiting_approval', show(q));
  assert.equal(view.stage, 'migrate');
  assert.equal(view.version, '1.1.0');
  assert.deepEqual(view.pendingGate.approvers, ['alice', 'bob']);
  assert.equal(view.pendingGate.needed, 1);
  assert.equal(view.pendingGate.signed, true);
  for (const field of ['workflowId', 'runId', 'service', 'environment', 'version', 'artifactSha256', 'stage']) assert.ok(field in view.pendingGate.sign, `pendingGate.sign.${field}`);
  assert.equal(view.pendingGate.sign.stage, 'migrate');

  const own = await runDocumented('update-approval', { '--input': JSON.stringify({ decision: 'approve', by: 'alice' }) });
  assert.notEqual(own.code, 0, show(own));
  assert.match(own.stderr + own.stdout, /alice requested this deploy and may not approve it/, show(own));

  const stranger = await runDocumented('update-approval', { '--input': JSON.stringify({ decision: 'approve', by: 'mallory' }) });
  assert.notEqual(stranger.code, 0, show(stranger));
  assert.match(stranger.stderr + stranger.stdout, /mallory is not an approver/, show(stranger));

  const unsigned = await runDocumented('update-approval', { '--input': JSON.stringify({ decision: 'approve', by: 'bob', comment: 'checked the migration' }) });
  assert.notEqual(unsigned.code, 0, show(unsigned));
  assert.match(unsigned.stderr + unsigned.stdout, /approve before migrate must be signed by bob's key/, show(unsigned));
  assert.equal((await world.status(handle)).status, 'awaiting_approval', 'refusals leave the gate waiting');

  const accepted = await runPrinted('update-approval', ['approve', 'hello-service', '--env', 'production', '--by', 'bob', '--key', keyOf('bob'), '--comment', 'checked the migration', '--print-update']);
  assert.equal(accepted.code, 0, show(accepted));
  // The CLI prints the gate's state returned by the update.
  assert.match(accepted.stdout, /decision:approved/, show(accepted));
  assert.match(accepted.stdout, /by:bob/, show(accepted));

  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result?.timeline, null, 1));
  assert.deepEqual(result.approvals.map((a) => `${a.by} via ${a.via} signed by ${a.signature?.signer}`), ['bob via update signed by bob']);
  assert.equal((await world.get('production', '/')).body.version, '1.1.0');
});

test('a signed request printed by deployctl deploy --print starts production; an unsigned approve is refused, the signed one printed by --print lets it through', async () => {
  const start = await runPrinted('start-signed', ['deploy', CONTRACT_SPEC, '--env', 'production', '--version', '1.1.0', '--by', 'carol', '--key', keyOf('carol'), '--print']);
  assert.equal(start.code, 0, show(start));
  const runId = /RunId\s+(\S+)/.exec(start.stdout)?.[1];
  assert.ok(runId, show(start));
  const handle = world.client.workflow.getHandle('deploy-hello-service-production', runId);
  const waiting = await world.waitForStatus(handle, (s) => s.status !== 'running', 120_000);
  assert.equal(waiting.status, 'awaiting_approval', JSON.stringify(waiting.timeline, null, 1));

  // The contract's unsigned approval as alice: delivered, refused, visible in the status; the gate waits.
  const forged = await runDocumented('signal-approve-unsigned');
  assert.equal(forged.code, 0, show(forged));
  assert.match(forged.stdout + forged.stderr, /Signal workflow succeeded/i, show(forged));
  const refused = await poll('the refusal in the timeline', async () => {
    const r = await refusals(handle);
    return r.length ? r : undefined;
  });
  assert.match(refused[0]!, /^approve by alice refused: approve before migrate must be signed by alice's key/);
  const after = await world.status(handle);
  assert.equal(after.status, 'awaiting_approval');
  assert.equal(after.pendingGate?.given, 0);
  const q = await runDocumented('query-status');
  assert.match(q.stdout, /approve by alice refused/, 'the status query shows the refusal');

  const r = await runPrinted('signal-approve', ['approve', 'hello-service', '--env', 'production', '--by', 'alice', '--key', keyOf('alice'), '--comment', 'looks good', '--print']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout + r.stderr, /Signal workflow succeeded/i, show(r));
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result?.timeline, null, 1));
  assert.deepEqual(result.approvals.map((a) => `${a.by} via ${a.via}: ${a.comment}, signed by ${a.signature?.signer}`), ['alice via signal: looks good, signed by alice']);
  assert.equal((await world.get('production', '/')).body.version, '1.1.0');
});

test('workflow signal reject (signed, printed by deployctl reject --print) ends a waiting deploy as rejected, nothing changed', async () => {
  const handle = await productionDeployAtGate('1.0.0');
  const r = await runPrinted('signal-reject', ['reject', 'hello-service', '--env', 'production', '--by', 'bob', '--key', keyOf('bob'), '--reason', 'not during the sale', '--print']);
  assert.equal(r.code, 0, show(r));
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'rejected');
  assert.match(result.reason ?? '', /rejected by bob: not during the sale/);
  assert.deepEqual(result.stages.map((s) => s.stage), ['plan', 'build', 'preChecks']);
  assert.match(result.timeline.find((e) => e.kind === 'gate' && e.event.startsWith('rejected by bob'))?.event ?? '', /\(signed, key SHA256:/);
  assert.equal((await world.get('production', '/')).body.version, '1.1.0');
});

test('workflow cancel ends a waiting deploy as cancelled', async () => {
  const handle = await productionDeployAtGate('1.0.0');
  const r = await runDocumented('cancel');
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout + r.stderr, /Canceled workflow/i, show(r));
  const { status } = await world.outcome(handle);
  assert.equal(status, 'cancelled');
  const desc = await handle.describe();
  assert.equal(desc.status.name, 'CANCELLED');
  assert.deepEqual(desc.searchAttributes.DeployStatus, ['cancelled']);
  assert.equal((await world.get('production', '/')).body.version, '1.1.0');
});

test('every command in docs/cli-commands.md was run by this file', () => {
  assert.ok(stagingRunId, 'the list/describe/show test ran');
  assert.deepEqual([...commands.keys()].filter((id) => !ran.has(id)), []);
});
