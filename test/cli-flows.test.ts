import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { REPO_ROOT, startDeployWorld, type DeployWorld } from './helpers/deploy-world';

/**
 * Every Temporal CLI command of docs/cli-commands.md (the README's daily flows) is run here exactly as
 * written, with the real `temporal` binary and only `--address` added, against a world with a worker;
 * each command's output is checked.
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
  const contractSpec = path.join(world.dataDir, CONTRACT_SPEC);
  await fs.mkdir(path.dirname(contractSpec), { recursive: true });
  await fs.copyFile(world.specPath, contractSpec);
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

test('workflow query status, then update approval: refused (non-zero, with the reason) and accepted', async () => {
  // alice requests this one, so her own approval must be refused.
  const handle = await productionDeployAtGate('1.1.0', 'alice');

  const q = await runDocumented('query-status');
  assert.equal(q.code, 0, show(q));
  const view = JSON.parse(q.stdout.slice(q.stdout.indexOf('{'))) as Record<string, any>;
  assert.equal(view.status, 'awaiting_approval', show(q));
  assert.equal(view.stage, 'migrate');
  assert.equal(view.version, '1.1.0');
  assert.deepEqual(view.pendingGate.approvers, ['alice', 'bob']);
  assert.equal(view.pendingGate.needed, 1);

  const own = await runDocumented('update-approval', { '--input': JSON.stringify({ decision: 'approve', by: 'alice' }) });
  assert.notEqual(own.code, 0, show(own));
  assert.match(own.stderr + own.stdout, /alice requested this deploy and may not approve it/, show(own));

  const stranger = await runDocumented('update-approval', { '--input': JSON.stringify({ decision: 'approve', by: 'mallory' }) });
  assert.notEqual(stranger.code, 0, show(stranger));
  assert.match(stranger.stderr + stranger.stdout, /mallory is not an approver/, show(stranger));
  assert.equal((await world.status(handle)).status, 'awaiting_approval', 'refusals leave the gate waiting');

  const accepted = await runDocumented('update-approval');
  assert.equal(accepted.code, 0, show(accepted));
  // The CLI prints the gate's state returned by the update.
  assert.match(accepted.stdout, /decision:approved/, show(accepted));
  assert.match(accepted.stdout, /by:bob/, show(accepted));

  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result?.timeline, null, 1));
  assert.deepEqual(result.approvals.map((a) => `${a.by} via ${a.via}`), ['bob via update']);
  assert.equal((await world.get('production', '/')).body.version, '1.1.0');
});

test('workflow signal approve lets a waiting production deploy through', async () => {
  const handle = await productionDeployAtGate('1.0.0');
  const r = await runDocumented('signal-approve');
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout + r.stderr, /Signal workflow succeeded/i, show(r));
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result?.timeline, null, 1));
  assert.deepEqual(result.approvals.map((a) => `${a.by} via ${a.via}: ${a.comment}`), ['alice via signal: looks good']);
  assert.equal((await world.get('production', '/')).body.version, '1.0.0');
});

test('workflow signal reject ends a waiting deploy as rejected, nothing changed', async () => {
  const handle = await productionDeployAtGate('1.1.0');
  const r = await runDocumented('signal-reject');
  assert.equal(r.code, 0, show(r));
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'rejected');
  assert.match(result.reason ?? '', /rejected by bob: not during the sale/);
  assert.deepEqual(result.stages.map((s) => s.stage), ['plan', 'build', 'preChecks']);
  assert.equal((await world.get('production', '/')).body.version, '1.0.0');
});

test('workflow cancel ends a waiting deploy as cancelled', async () => {
  const handle = await productionDeployAtGate('1.1.0');
  const r = await runDocumented('cancel');
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout + r.stderr, /Canceled workflow/i, show(r));
  const { status } = await world.outcome(handle);
  assert.equal(status, 'cancelled');
  const desc = await handle.describe();
  assert.equal(desc.status.name, 'CANCELLED');
  assert.deepEqual(desc.searchAttributes.DeployStatus, ['cancelled']);
  assert.equal((await world.get('production', '/')).body.version, '1.0.0');
});

test('every command in docs/cli-commands.md was run by this file', () => {
  assert.ok(stagingRunId, 'the list/describe/show test ran');
  assert.deepEqual([...commands.keys()].filter((id) => !ran.has(id)), []);
});
