/**
 * `npm run demo`: setup, the stack (Temporal dev server + Web UI + worker), then a rehearsal of the
 * example's runbook with the Temporal CLI, the way an operator would run it:
 *   1. hello-service 1.0.0 → staging
 *   2. 1.1.0 → staging (an expand migration; its ledger line is shown)
 *   3. the known-bad 2.0.0 → staging: breaches its health thresholds and rolls back by itself
 *   4. 1.1.0 → production, requested with carol's signature (the `temporal workflow start` that
 *      `deployctl deploy --key … --print` prints): waits at the signed approval gate; a forged `{"by":"alice"}`
 *      signal is refused (the status shows it), then alice approves through `temporal workflow signal` with the
 *      signed payload `deployctl approve --key … --print` prints
 * It exits 0 only when every outcome is the expected one.
 *
 * The world is reset before the rehearsal (see resetExampleWorld): the example's service processes are
 * stopped, its databases recreated, its target directories and registry rows removed. Deploy history in
 * Temporal (.data/temporal.db) and the content-addressed artifacts are kept: they are an audit trail and a
 * cache, and nothing in them changes what the rehearsal does.
 *
 *   npm run demo                 rehearse, then stop the worker and the server
 *   npm run demo -- --keep       leave server, Web UI and worker running (state in .data/demo-stack.json)
 *   npm run demo -- --stop       stop a stack left running by --keep
 *
 * Env: TEMPORAL_PORT (7233), TEMPORAL_UI_PORT (8233), WORKER_HEALTH_PORT (8091); busy ports are replaced by
 * free ones and the demo says so.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client as PgClient } from 'pg';
import { Client, Connection, WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { loadSpec } from '../src/spec/load';
import { createTarget, describeTarget, targetPlan, type Target } from '../src/targets';
import { FrontDoor } from '../src/traffic';
import { frontDoorIndexDir } from '../src/traffic/keeper';
import { frontDoorName } from '../src/traffic/schema';
import { statusQuery } from '../src/workflows/definitions';
import type { DeployResult, DeployStatusView } from '../src/workflows/types';
import type { DeploySpec } from '../src/spec/schema';
import { formatDuration } from './lib/log';
import { dropDatabase, ensureDatabase } from './lib/postgres';
import { isServing } from './lib/dev-server';
import { isAlive, startStack, stopPid, type Stack } from './lib/stack';
import { DATA_DIR, ROOT, runSetup } from './setup';

const execFileAsync = promisify(execFile);

const SPEC = 'examples/hello-service/deploy.yaml';
const STATE_FILE = path.join(DATA_DIR, 'demo-stack.json');
const RUNBOOK_OUT = '.data/runbook-hello-service-production.md';
const DEPLOY_TIMEOUT_MS = 10 * 60_000;

interface Step {
  n: number;
  title: string;
  environment: 'staging' | 'production';
  version: string;
  expected: DeployResult['outcome'];
}

const STEPS: Step[] = [
  { n: 1, title: 'first release', environment: 'staging', version: '1.0.0', expected: 'succeeded' },
  { n: 2, title: 'expand migration', environment: 'staging', version: '1.1.0', expected: 'succeeded' },
  { n: 3, title: 'known-bad release: must roll back by itself', environment: 'staging', version: '2.0.0', expected: 'rolled_back' },
  { n: 4, title: 'production behind a signed approval gate', environment: 'production', version: '1.1.0', expected: 'succeeded' },
];

interface StepReport {
  step: Step;
  outcome: string;
  ok: boolean;
  durationMs: number;
  uiLink: string;
  problems: string[];
}

/** A stack left by `--keep`, recorded so that `--stop` and the next demo can find it. */
interface KeptStack {
  address: string;
  uiUrl?: string;
  healthUrl: string;
  workerPid: number;
  serverPid?: number;
  logs: { temporal: string; worker: string };
  keptAt: string;
}

const demoStarted = Date.now();
const out = (line = '') => process.stdout.write(`${line}\n`);
const clock = () => {
  const s = Math.floor((Date.now() - demoStarted) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};

// ---------- what the demo holds, for Ctrl-C and failures ----------

let stack: Stack | undefined;
let adopted: KeptStack | undefined;
let keep = false;
let connection: Connection | undefined;
let inFlight: { client: Client; workflowId: string; runId: string } | undefined;
let exiting = false;
let demoSpec: DeploySpec | undefined;

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => !['--keep', '--stop', '--help', '-h'].includes(a));
  if (args.includes('--help') || args.includes('-h') || unknown.length > 0) {
    if (unknown.length > 0) out(`Unknown option ${unknown.join(' ')}.`);
    out('Usage: npm run demo [-- --keep | -- --stop]');
    out('  --keep   leave the Temporal server, its Web UI and the worker running after the rehearsal');
    out('  --stop   stop a stack left running by --keep');
    return unknown.length > 0 ? 2 : 0;
  }
  forgetCallersTemporalSettings();
  if (args.includes('--stop')) return stopKeptStack();
  keep = args.includes('--keep');
  process.on('SIGINT', () => void interrupt('SIGINT'));
  process.on('SIGTERM', () => void interrupt('SIGTERM'));

  out('Deploy orchestrator demo: setup, the stack, then the example runbook rehearsed with the Temporal CLI.');
  out(`(${keep ? '--keep: the stack stays up afterwards' : 'the stack stops afterwards; -- --keep leaves it up'}; Ctrl-C stops everything)`);
  out();
  const setup = await runSetup();
  const cli = setup.cli;

  out();
  out(`[${clock()}] Starting the stack…`);
  const { address, uiUrl } = await startOrAdoptStack(cli, setup.databaseUrl);
  connection = await Connection.connect({ address, connectTimeout: '10s' });
  const client = new Client({ connection });
  const { spec } = await loadSpec(SPEC, ROOT);
  demoSpec = spec;

  // A deploy still running under the lock ID belongs to someone (a previous demo, an operator): never reset under it.
  for (const environment of ['staging', 'production'] as const) {
    const workflowId = `deploy-${spec.service}-${environment}`;
    let running = await runningExecution(client, workflowId);
    if (running?.cancelRequested) {
      // Cancelled while no worker ran (e.g. after an interrupted demo): this worker now runs its compensations.
      out(`  ${workflowId} (run ${running.runId}) was cancelled; waiting for its compensations to finish…`);
      const handle = client.workflow.getHandle(workflowId, running.runId);
      await Promise.race([handle.result().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 120_000))]);
      running = await runningExecution(client, workflowId);
    }
    if (running) {
      out();
      out(`${workflowId} is still running (run ${running.runId}), started by a previous demo or by an operator.`);
      out('The demo resets the example\'s world, so it will not run beside a live deploy. Follow or cancel that deploy first:');
      out(`  ${uiLink(uiUrl, workflowId, running.runId)}`);
      out(`  temporal workflow cancel${addressFlag(address)} --workflow-id ${workflowId}`);
      out('then run npm run demo again (it waits for a cancelled deploy to finish rolling back).');
      return 1;
    }
  }

  out();
  out(`[${clock()}] Resetting the example's world so the rehearsal starts from nothing deployed:`);
  await resetExampleWorld(spec, setup.adminUrl, setup.databaseUrl, setup.example.databases);

  out();
  out(`[${clock()}] Rehearsing the runbook. temporal = ${cli}`);
  const reports: StepReport[] = [];
  for (const step of STEPS) {
    if (interrupted) return waitForShutdown();
    reports.push(await rehearse(step, { client, cli, address, uiUrl, spec, adminUrl: setup.adminUrl, databases: setup.example.databases, keys: setup.example.keys }));
  }

  if (interrupted) return waitForShutdown();
  out();
  await writeRunbook(address);

  const allOk = reports.every((r) => r.ok);
  out();
  printSummary(reports);
  out();
  out(`Total wall time: ${formatDuration(Date.now() - demoStarted)}. ${allOk ? 'Every outcome was the expected one.' : 'Some outcomes were NOT the expected ones (see above).'}`);
  if (uiUrl) out(`All deploys of hello-service in the Web UI: ${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent('DeployService="hello-service"')}`);
  return allOk ? 0 : 1;
}

// ---------- the stack ----------

async function startOrAdoptStack(cli: string, databaseUrl: string): Promise<{ address: string; uiUrl?: string }> {
  const kept = await readKeptStack();
  if (kept) {
    const serverUp = await isServing(cli, kept.address);
    const workerUp = isAlive(kept.workerPid) && (await httpOk(kept.healthUrl));
    if (serverUp && workerUp) {
      adopted = kept;
      out(`  reusing the stack kept by a previous demo (--keep): server ${kept.address}, worker pid ${kept.workerPid}`);
      printStack(kept.address, kept.uiUrl, kept.healthUrl, kept.logs);
      return { address: kept.address, uiUrl: kept.uiUrl };
    }
    out(`  a stack recorded in ${path.relative(ROOT, STATE_FILE)} is no longer complete; stopping what is left of it`);
    await stopKeptProcesses(kept);
  }
  stack = await startStack({
    cli,
    databaseUrl,
    cwd: ROOT,
    dataDir: '.data',
    logDir: DATA_DIR,
    dbFilename: path.join(DATA_DIR, 'temporal.db'),
    temporalPort: portFromEnv('TEMPORAL_PORT', 7233),
    uiPort: portFromEnv('TEMPORAL_UI_PORT', 8233),
    healthPort: portFromEnv('WORKER_HEALTH_PORT', 8091),
    onNotice: (line) => out(`  ${line}`),
  });
  printStack(stack.address, stack.uiUrl, stack.healthUrl, stack.logs);
  // A worker that dies mid-rehearsal would leave the demo waiting on a deploy nobody runs.
  void stack.workerExit.then((how) => {
    if (!exiting) {
      out(`\nThe worker exited unexpectedly (${how}); its log is ${path.relative(ROOT, stack!.logs.worker)}.`);
      void shutdown(1);
    }
  });
  return { address: stack.address, uiUrl: stack.uiUrl };
}

function printStack(address: string, uiUrl: string | undefined, healthUrl: string, logs: { temporal: string; worker: string }): void {
  out(`  Temporal server  ${address}  (history kept in .data/temporal.db)`);
  out(`  Web UI           ${uiUrl ?? '(unknown for a reused server)'}`);
  out(`  Worker           ${healthUrl}  (task queue deploys, DEPLOY_DATA_DIR=.data)`);
  out(`  Logs             ${path.relative(ROOT, logs.temporal)}, ${path.relative(ROOT, logs.worker)}`);
}

async function readKeptStack(): Promise<KeptStack | undefined> {
  try {
    return JSON.parse(await fs.readFile(STATE_FILE, 'utf8')) as KeptStack;
  } catch {
    return undefined;
  }
}

async function stopKeptProcesses(kept: KeptStack): Promise<void> {
  await stopPid(kept.workerPid, 45_000);
  if (kept.serverPid) await stopPid(kept.serverPid, 15_000);
  await fs.rm(STATE_FILE, { force: true });
}

async function stopKeptStack(): Promise<number> {
  const kept = await readKeptStack();
  if (!kept) {
    out(`No kept stack recorded in ${path.relative(ROOT, STATE_FILE)}: nothing to stop.`);
    return 0;
  }
  out(`Stopping the worker (pid ${kept.workerPid})${kept.serverPid ? ` and then the Temporal server (pid ${kept.serverPid})` : ''}…`);
  await stopKeptProcesses(kept);
  out('Stopped.');
  return 0;
}

async function shutdown(code: number): Promise<never> {
  if (exiting) return new Promise<never>(() => undefined);
  exiting = true;
  if (keep) {
    await connection?.close().catch(() => undefined);
    if (stack) {
      const kept: KeptStack = {
        address: stack.address,
        uiUrl: stack.uiUrl,
        healthUrl: stack.healthUrl,
        workerPid: stack.worker.pid,
        serverPid: stack.server?.pid,
        logs: stack.logs,
        keptAt: new Date().toISOString(),
      };
      await fs.writeFile(STATE_FILE, `${JSON.stringify(kept, null, 2)}\n`);
      stack.detach();
    }
    const k = adopted ?? (await readKeptStack());
    out();
    out('--keep: the stack stays up.');
    if (k) {
      out(`  Web UI  ${k.uiUrl ?? '(unknown)'}    Temporal ${k.address}    worker pid ${k.workerPid}${k.serverPid ? `, server pid ${k.serverPid}` : ''}`);
      if (demoSpec) {
        for (const environment of Object.keys(demoSpec.environments)) {
          out(`  ${demoSpec.service} ${environment}: ${exampleTarget(demoSpec, environment).summary}`);
        }
      }
      out('  Stop it with: npm run demo -- --stop  (the example services keep running until the next demo resets them)');
      out(`  (or by hand: kill -TERM -${k.workerPid}; then kill -TERM -${k.serverPid ?? '<server pid>'})`);
    }
    process.exit(code);
  }
  if (stack || adopted) out(`\n[${clock()}] Stopping the worker, then the Temporal server…`);
  await stack?.stop();
  if (adopted) await stopKeptProcesses(adopted);
  if (stack || adopted) out('Stopped.');
  // After the worker: its keeper would start a stopped front door again.
  await stopExampleServices();
  await connection?.close().catch(() => undefined);
  process.exit(code);
}

/** Ctrl-C: a deploy in flight is cancelled (its compensations run) before the worker stops, so no deploy is left running. */
let interrupted = false;
/** After Ctrl-C the interrupt handler owns the exit; the rehearsal just stops where it is. */
function waitForShutdown(): Promise<never> {
  return new Promise<never>(() => undefined);
}
async function interrupt(signal: string): Promise<void> {
  // npm's launcher forwards the terminal's Ctrl-C, so the same interrupt can arrive twice.
  if (exiting || interrupted) return;
  interrupted = true;
  out(`\n${signal}: stopping.`);
  const deploy = inFlight;
  if (deploy) {
    out(`  cancelling ${deploy.workflowId} so that it rolls back instead of waiting for a worker…`);
    const handle = deploy.client.workflow.getHandle(deploy.workflowId, deploy.runId);
    await handle.cancel().catch(() => undefined);
    await Promise.race([handle.result().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 30_000))]);
  }
  await shutdown(130);
}

/** Without --keep nothing the demo started stays up, the deployed example services included. */
async function stopExampleServices(): Promise<void> {
  if (!demoSpec) return;
  for (const environment of Object.keys(demoSpec.environments)) {
    const { target, summary } = exampleTarget(demoSpec, environment);
    const status = await target.status().catch(() => undefined);
    // A fleet's hosts are stopped by their agents, never from here.
    if (status?.hosts) continue;
    // The releases first: emptying a front door starts its haproxy if it is down.
    if (status?.running) await target.rollback(null, {}).catch(() => undefined);
    const doorStopped = await stopFrontDoor(exampleTarget(demoSpec, environment));
    if (!status?.running && !doorStopped) continue;
    out(`Stopped ${demoSpec.service} in ${environment} (${summary}${doorStopped ? ', and its front door' : ''}); its releases stay on disk for the next run.`);
  }
}

/** The example's target in one environment, as the worker would build it from the spec. */
function exampleTarget(spec: DeploySpec, environment: string): { target: Target; summary: string; root: string; frontDoor?: FrontDoor; keeperEntry?: string } {
  const resolvePath = (p: string) => path.resolve(ROOT, p);
  const env = spec.environments[environment]!;
  const healthPath = env.health?.path ?? spec.health.path;
  // blueGreen / canary: the target sits behind a front door, as the worker plans it (every release's process is then its own).
  const progressive = env.strategy !== undefined && env.strategy.type !== 'replace';
  const name = frontDoorName(spec.service, environment);
  const plan = targetPlan(env.target, { service: spec.service, environment, resolvePath, runtimeCommand: spec.runtime.command, healthPath, ...(progressive ? { frontDoor: { name, healthPath } } : {}) });
  const dataDir = resolvePath('.data');
  const root = describeTarget(plan, dataDir).diskPath;
  const publicPort = (env.target as { port?: number }).port;
  const frontDoor = progressive && publicPort ? new FrontDoor({ name, publicPort, directory: path.join(root, 'front-door') }) : undefined;
  return {
    target: createTarget(plan, { service: spec.service, environment, dataDir }),
    summary: describeTarget(plan, dataDir).summary,
    root,
    ...(frontDoor ? { frontDoor, keeperEntry: path.join(frontDoorIndexDir(dataDir), `${name}-${publicPort}.json`) } : {}),
  };
}

/**
 * Stops an environment's front door and takes it off the worker's keeper list first (the keeper would start
 * it again within seconds): an haproxy left on the public port would refuse the next demo's first deploy.
 */
async function stopFrontDoor(t: { frontDoor?: FrontDoor; keeperEntry?: string }): Promise<boolean> {
  if (!t.frontDoor) return false;
  if (t.keeperEntry) await fs.rm(t.keeperEntry, { force: true });
  const running = (await t.frontDoor.status().catch(() => undefined))?.running ?? false;
  await t.frontDoor.stop({ graceMs: 500 }).catch(() => undefined);
  // An haproxy whose directory is already gone (an interrupted or older demo) is found by its config path.
  const config = path.join(t.frontDoor.files.directory, 'haproxy.cfg');
  let orphans = 0;
  for (const entry of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!argv[0]?.endsWith('haproxy') || !argv.includes(config)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      orphans++;
    } catch {
      // gone meanwhile
    }
  }
  return running || orphans > 0;
}

// ---------- resetting the example's world ----------

async function resetExampleWorld(
  spec: DeploySpec,
  adminUrl: string,
  databaseUrl: string,
  databases: Record<string, string>,
): Promise<void> {
  const reset = new Set<string>();
  for (const environment of Object.keys(spec.environments)) {
    const { target, summary, root } = exampleTarget(spec, environment);
    const status = await target.status().catch(() => undefined);
    if (status?.hosts) {
      // A fleet's hosts are changed by their agents only; the rehearsal does not use it.
      out(`  ${environment}: left as it is (${summary}): the rehearsal does not deploy it`);
      continue;
    }
    await target.rollback(null, {}).catch(() => undefined);
    const doorStopped = await stopFrontDoor(exampleTarget(spec, environment));
    await fs.rm(root, { recursive: true, force: true });
    reset.add(environment);
    const stopped = `${status?.pid ? `stopped its service (pid ${status.pid}; ${summary}), ` : ''}${doorStopped ? 'stopped its front door, ' : ''}`;
    out(`  ${environment}: ${stopped}cleared ${path.relative(ROOT, root)}`);
  }
  for (const [environment, name] of Object.entries(databases).filter(([environment]) => reset.has(environment))) {
    await dropDatabase(adminUrl, name);
    await ensureDatabase(adminUrl, name);
    out(`  ${environment}: database ${name} dropped and created empty`);
  }
  const pg = new PgClient({ connectionString: databaseUrl });
  await pg.connect();
  try {
    let removed = 0;
    for (const table of ['deploy_releases', 'deploy_contract_baselines']) {
      const { rows } = await pg.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [table]);
      if (!rows[0]?.present) continue;
      removed += (await pg.query(`DELETE FROM ${table} WHERE service = $1`, [spec.service])).rowCount ?? 0;
    }
    out(`  release registry: ${removed} row(s) of ${spec.service} removed`);
  } finally {
    await pg.end();
  }
  out('  kept: deploy history in Temporal (.data/temporal.db) and the content-addressed artifacts (.data/artifacts)');
}

// ---------- one rehearsal step ----------

interface RehearsalContext {
  client: Client;
  cli: string;
  address: string;
  uiUrl?: string;
  spec: DeploySpec;
  adminUrl: string;
  databases: Record<'staging' | 'production', string>;
  /** The demo signing keys made by setup (.data/keys/<name>). */
  keys: Record<'alice' | 'bob' | 'carol', { privateKeyFile: string }>;
}

async function rehearse(step: Step, ctx: RehearsalContext): Promise<StepReport> {
  const workflowId = `deploy-${ctx.spec.service}-${step.environment}`;
  const port = (ctx.spec.environments[step.environment]!.target as { port: number }).port;
  out();
  out(`[${clock()}] Step ${step.n}/${STEPS.length}: ${ctx.spec.service} ${step.version} → ${step.environment} (${step.title}); expected: ${step.expected}`);

  const started = Date.now();
  const since = () => `+${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
  const problems: string[] = [];
  let startArgs: string[];
  if (step.environment === 'production') {
    // Production's gate is signed, so the request must be signed by its requester: deployctl signs it with
    // carol's key and prints the Temporal CLI command, which the demo runs as an operator would paste it.
    out(`  production's gate is signed: the request carries carol's signature (deployctl signs it and prints the command)`);
    const printed = await deployctlPrint(ctx, ['deploy', SPEC, '--env', 'production', '--version', step.version, '--by', 'carol', '--key', keyArg(ctx, 'carol'), '--print']);
    startArgs = printed.argv.slice(1);
    out(`          $ ${shellCommand(['temporal', ...startArgs.map(shortenSignature)])}   (signature shortened here)`);
  } else {
    const input = JSON.stringify({ spec: SPEC, environment: step.environment, version: step.version, requestedBy: 'carol' });
    startArgs = ['workflow', 'start', ...addressArgs(ctx.address), '--task-queue', 'deploys', '--type', 'deployRelease', '--workflow-id', workflowId, '--input', input];
    out(`  $ ${shellCommand(['temporal', ...startArgs])}`);
  }
  const start = await runCli(ctx.cli, startArgs);
  if (start.code !== 0) {
    const already = /already (started|running)/i.test(start.output);
    out(already
      ? `  ${workflowId} is already running: another deploy holds the lock. Stopping the demo; follow or cancel that deploy first.`
      : `  the Temporal CLI failed (exit ${start.code}):\n${indent(start.output)}`);
    throw new Error(`could not start ${workflowId}`);
  }
  const runId = /RunId\s+(\S+)/.exec(start.output)?.[1];
  if (!runId) throw new Error(`the Temporal CLI did not print a RunId:\n${start.output}`);
  const link = uiLink(ctx.uiUrl, workflowId, runId);
  out(`  started run ${runId}`);
  out(`  UI: ${link}`);

  inFlight = { client: ctx.client, workflowId, runId };
  const handle = ctx.client.workflow.getHandle(workflowId, runId);
  let forgedRefused = false;
  let forgedSent = false;
  let approved = false;
  const outcome = await follow(handle, since, async (view) => {
    if (view.status !== 'awaiting_approval') return false;
    if (view.pendingPromotion) {
      // Blue/green paused before the switch: the new release runs beside the old one and passed its
      // analysis; alice promotes it with a signed `promote` (deployctl prints the signal command).
      out(`  ${since()}  promoting as alice through the Temporal CLI, signed with her key (deployctl prints the command):`);
      const printed = await deployctlPrint(ctx, ['promote', ctx.spec.service, '--env', step.environment, '--by', 'alice', '--key', keyArg(ctx, 'alice'), '--print']);
      out(`          $ ${shellCommand(['temporal', ...printed.argv.slice(1).map(shortenSignature)])}   (signature shortened here)`);
      const signal = await runCli(ctx.cli, printed.argv.slice(1));
      if (signal.code !== 0) throw new Error(`temporal workflow signal failed (exit ${signal.code}):\n${signal.output}`);
      out(`  ${since()}  ${signal.output.trim() || 'signal sent'}`);
      return true;
    }
    if (approved) return false;
    if (!forgedSent) {
      // First the forged approval; the next poll prints its refusal from the timeline, then alice approves.
      forgedSent = true;
      forgedRefused = await forgedApprovalIsRefused(ctx, handle, workflowId, since, problems);
      return false;
    }
    // Then the real approval: alice signs the gate's statement with her key; deployctl prints the signal.
    out(`  ${since()}  approving as alice through the Temporal CLI, signed with her key (deployctl prints the command):`);
    const printed = await deployctlPrint(ctx, ['approve', ctx.spec.service, '--env', step.environment, '--by', 'alice', '--key', keyArg(ctx, 'alice'), '--comment', 'demo', '--print']);
    out(`          $ ${shellCommand(['temporal', ...printed.argv.slice(1).map(shortenSignature)])}   (signature shortened here)`);
    const signal = await runCli(ctx.cli, printed.argv.slice(1));
    if (signal.code !== 0) throw new Error(`temporal workflow signal failed (exit ${signal.code}):\n${signal.output}`);
    out(`  ${since()}  ${signal.output.trim() || 'signal sent'}`);
    approved = true;
    // Production is blue/green with a pause for promote after its gate: keep watching for it.
    return !(ctx.spec.environments[step.environment] as { strategy?: { pauseForPromote?: boolean } }).strategy?.pauseForPromote;
  });
  inFlight = undefined;
  if (interrupted) return waitForShutdown();
  const durationMs = Date.now() - started;

  const result = outcome.result;
  if (outcome.status !== step.expected) {
    problems.push(`ended ${outcome.status}${result?.reason ? ` (${result.reason})` : ''}, expected ${step.expected}`);
  }

  // What an operator would check after each step.
  if (step.n === 2) {
    const ledger = await ledgerLines(ctx.adminUrl, ctx.databases.staging);
    const added = ledger.find((l) => l.startsWith('002_'));
    if (added) out(`  migration ledger (${ctx.databases.staging}.deploy_schema_migrations): ${added}`);
    else problems.push('the ledger has no 002_ migration');
  }
  if (step.n === 3 && result) {
    const health = result.health as { breached?: string; reason?: string } | undefined;
    out(`  breached threshold: ${health?.breached ?? '(none reported)'}: ${health?.reason ?? result.reason ?? ''}`);
    const comp = result.compensations.at(-1);
    if (comp) out(`  compensation: ${comp.name} ${comp.status}`);
  }
  if (step.n === 4 && result) {
    const approvals = result.approvals
      .map((a) => `${a.by} (via ${a.via}${a.comment ? `: "${a.comment}"` : ''}${a.signature ? `; signed by ${a.signature.signer}, key ${a.signature.fingerprint}` : '; NOT signed'})`)
      .join(', ');
    out(`  approved by: ${approvals || 'nobody?'}`);
    if (!result.approvals.some((a) => a.by === 'alice' && a.signature?.signer === 'alice')) problems.push('alice\'s signed approval is not in the result');
    if (result.approvals.length !== 1) problems.push(`expected exactly one approval (alice's), found ${result.approvals.length}`);
    if (!forgedRefused) problems.push('the forged {"by":"alice"} signal was not shown refused');
  }
  const expectedVersion = step.n === 3 ? '1.1.0' : step.version;
  const answer = await serviceVersion(port);
  if (answer === expectedVersion) {
    out(`  http://127.0.0.1:${port}/ answers version ${answer}${step.n === 3 ? ' again' : ''}`);
  } else {
    problems.push(`http://127.0.0.1:${port}/ answers ${answer ?? 'nothing'}, expected ${expectedVersion}`);
  }

  const ok = problems.length === 0;
  out(`  ${ok ? '✓' : '✗'} ${outcome.status}${ok ? ' as expected' : ''} in ${formatDuration(durationMs)}`);
  for (const p of problems) out(`  ✗ ${p}`);
  return { step, outcome: outcome.status, ok, durationMs, uiLink: link, problems };
}

/**
 * Prints the deploy as it happens (stage changes and timeline entries from the `status` query) until it
 * closes; `onView` may act on a view (the approval) and returns true once it has.
 */
async function follow(
  handle: WorkflowHandle,
  since: () => string,
  onView: (view: DeployStatusView) => Promise<boolean>,
): Promise<{ status: string; result: DeployResult | undefined }> {
  let done = false;
  // Settled, never rejected: a rejection must surface where the outcome is awaited, not as an unhandled one.
  const resultPromise = outcomeOf(handle).then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  void resultPromise.then(() => {
    done = true;
  });
  let printed = 0;
  let lastStage = '';
  let acted = false;
  const deadline = Date.now() + DEPLOY_TIMEOUT_MS;
  const show = (view: DeployStatusView) => {
    // What finished first, then where the deploy is now.
    for (const entry of view.timeline.slice(printed)) {
      const what = [entry.stage, entry.event].filter(Boolean).join(' ');
      out(`  ${since()}    ${what}${entry.detail ? `: ${clip(entry.detail)}` : ''}`);
    }
    printed = Math.max(printed, view.timeline.length);
    const where = `${view.status}/${view.stage}`;
    if (where !== lastStage) {
      lastStage = where;
      if (view.stage !== 'done') out(`  ${since()}  ▶ ${view.stage}${view.status !== 'running' ? ` (${view.status})` : ''}${view.waitingFor ? `: waiting for ${view.waitingFor}` : ''}`);
    }
  };
  while (!done) {
    const view = await handle.query(statusQuery).catch(() => undefined);
    if (view) {
      show(view);
      if (!acted) acted = await onView(view);
    }
    if (Date.now() > deadline) throw new Error(`${handle.workflowId} did not finish within ${formatDuration(DEPLOY_TIMEOUT_MS)}`);
    await Promise.race([resultPromise, new Promise((resolve) => setTimeout(resolve, 400))]);
  }
  const settled = await resultPromise;
  if ('error' in settled) throw settled.error;
  const outcome = settled.value;
  // The closed workflow still answers the query from its history: print what happened since the last poll.
  const last = await handle.query(statusQuery).catch(() => undefined);
  if (last) show(last);
  else if (outcome.result) show({ ...(outcome.result as unknown as DeployStatusView), timeline: outcome.result.timeline });
  return outcome;
}

async function outcomeOf(handle: WorkflowHandle): Promise<{ status: string; result: DeployResult | undefined }> {
  try {
    const result = (await handle.result()) as DeployResult;
    return { status: result.outcome, result };
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const details = (err.cause as { details?: unknown[] } | undefined)?.details;
      const result = details?.[0] as DeployResult | undefined;
      if (result?.outcome) return { status: result.outcome, result };
      return { status: (err.cause as Error | undefined)?.name === 'CancelledFailure' ? 'cancelled' : 'failed', result };
    }
    throw err;
  }
}

async function runningExecution(client: Client, workflowId: string): Promise<{ runId: string; cancelRequested: boolean } | undefined> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.status.name !== 'RUNNING') return undefined;
    return { runId: d.runId, cancelRequested: Boolean(d.raw.workflowExtendedInfo?.cancelRequested) };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/**
 * Sends the approval anyone could forge, `{"by":"alice"}` without a signature, through the Temporal CLI, and
 * shows that the deploy refused it: the refusal is in its timeline, deployctl status lists it, and the gate
 * still waits with no approval. Returns whether all of that held.
 */
async function forgedApprovalIsRefused(ctx: RehearsalContext, handle: WorkflowHandle, workflowId: string, since: () => string, problems: string[]): Promise<boolean> {
  const forgedArgs = ['workflow', 'signal', ...addressArgs(ctx.address), '--workflow-id', workflowId, '--name', 'approve', '--input', JSON.stringify({ by: 'alice' })];
  out(`  ${since()}  first, a forged approval: anyone who can reach Temporal can send a signal in alice's name:`);
  out(`          $ ${shellCommand(['temporal', ...forgedArgs])}`);
  const forged = await runCli(ctx.cli, forgedArgs);
  if (forged.code !== 0) throw new Error(`temporal workflow signal failed (exit ${forged.code}):\n${forged.output}`);
  out(`  ${since()}  ${forged.output.trim() || 'signal sent'} — delivered, but the deploy must refuse it:`);
  const deadline = Date.now() + 60_000;
  let view: DeployStatusView | undefined;
  while (Date.now() < deadline) {
    view = await handle.query(statusQuery).catch(() => undefined);
    if (view?.timeline.some((e) => e.kind === 'signal_refused')) break;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const refusal = view?.timeline.find((e) => e.kind === 'signal_refused');
  if (!refusal) {
    problems.push('the forged {"by":"alice"} signal left no refusal in the timeline');
    return false;
  }
  out(`          $ npx deployctl status ${ctx.spec.service} --env production`);
  const status = await runDeployctl(ctx, ['status', ctx.spec.service, '--env', 'production']);
  const lines = status.split('\n');
  const at = lines.findIndex((l) => l.includes('REFUSED'));
  for (const line of at >= 0 ? lines.slice(at, at + 2) : []) out(`          ${line}`);
  const stillWaiting = view?.status === 'awaiting_approval' && view.pendingGate?.given === 0;
  out(`  ${since()}  ${stillWaiting ? 'the gate still waits, with no approval counted' : 'the gate did NOT keep waiting'}`);
  if (at < 0) problems.push('deployctl status does not show the refused decision');
  if (!stillWaiting) problems.push('the forged approval changed the gate');
  return at >= 0 && stillWaiting;
}

/** Runs deployctl (src/cli/deployctl.ts) against the demo's server; resolves with its stdout, throws on a non-zero exit. */
async function runDeployctl(ctx: RehearsalContext, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/deployctl.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: ctx.address },
      timeout: 120_000,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`deployctl ${args.join(' ')} failed: ${clip((e.stderr || e.stdout || e.message).trim(), 600)}`);
  }
}

/** `deployctl … --print --json`: the signed Temporal CLI command it prints, as argv (`temporal` first). */
async function deployctlPrint(ctx: RehearsalContext, args: string[]): Promise<{ argv: string[]; command: string }> {
  out(`          $ npx ${shellCommand(['deployctl', ...args])}`);
  return JSON.parse(await runDeployctl(ctx, [...args, '--json'])) as { argv: string[]; command: string };
}

/** A demo key as a path relative to the repository (what an operator would type). */
function keyArg(ctx: RehearsalContext, name: 'alice' | 'bob' | 'carol'): string {
  return path.relative(ROOT, ctx.keys[name].privateKeyFile);
}

/** The --input JSON with its armored signature cut short, for display only (the full one is sent). */
function shortenSignature(word: string): string {
  return word.replace(/(-----BEGIN SSH SIGNATURE-----\\n.{0,24})[^"]*(-----END SSH SIGNATURE-----\\n)/, '$1…\\n$2');
}

// ---------- checks an operator would do ----------

async function ledgerLines(adminUrl: string, database: string): Promise<string[]> {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const pg = new PgClient({ connectionString: url.toString() });
  await pg.connect();
  try {
    const { rows } = await pg.query(
      `SELECT id, phase, state, checksum, duration_ms, workflow_id FROM deploy_schema_migrations ORDER BY id`,
    );
    return rows.map((r) => `${r.id}  ${r.phase}  ${r.state}  checksum ${String(r.checksum).slice(0, 12)}…  ${r.duration_ms ?? '?'} ms  by ${r.workflow_id}`);
  } finally {
    await pg.end();
  }
}

async function serviceVersion(port: number): Promise<string | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) });
    const body = (await response.json()) as { version?: string };
    return body.version;
  } catch {
    return undefined;
  }
}

// ---------- the runbook ----------

async function writeRunbook(address: string): Promise<void> {
  const entry = path.join(ROOT, 'src/cli/deployctl.ts');
  const args = ['tsx', 'src/cli/deployctl.ts', 'runbook', SPEC, '--env', 'production', '--out', RUNBOOK_OUT];
  try {
    await fs.access(entry);
  } catch {
    out(`[${clock()}] Runbook: skipped (src/cli/deployctl.ts does not exist yet; once it does, the demo writes ${RUNBOOK_OUT}).`);
    return;
  }
  out(`[${clock()}] Writing the production runbook from the spec:`);
  out(`  $ ${shellCommand(['npx', ...args])}`);
  try {
    await execFileAsync('npx', args, { cwd: ROOT, env: { ...process.env, TEMPORAL_ADDRESS: address }, timeout: 120_000 });
    out(`  wrote ${RUNBOOK_OUT}`);
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    out(`  skipped: deployctl runbook failed (${clip((e.stderr || e.stdout || e.message).trim(), 300)}); the rehearsal's outcome does not depend on it.`);
  }
}

// ---------- output ----------

function printSummary(reports: StepReport[]): void {
  const rows = reports.map((r) => [
    String(r.step.n),
    r.step.version,
    r.step.environment,
    `${r.outcome}${r.ok ? '' : ` (expected ${r.step.expected})`}`,
    formatDuration(r.durationMs),
    r.uiLink,
  ]);
  const head = ['step', 'version', 'env', 'outcome', 'duration', 'UI link'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  out('Summary');
  out(line(head));
  out(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) out(line(row));
}

function uiLink(uiUrl: string | undefined, workflowId: string, runId: string): string {
  const base = uiUrl ?? '(Web UI unknown)';
  return `${base}/namespaces/default/workflows/${workflowId}/${runId}/history`;
}

/**
 * The demo runs its own stack: settings in the caller's shell that point the Temporal CLI and SDK elsewhere
 * (TEMPORAL_ADDRESS for Temporal Cloud, an API key, TLS files, a profile) must not reach what it runs.
 */
function forgetCallersTemporalSettings(): void {
  const ignored = Object.keys(process.env).filter((k) => k.startsWith('TEMPORAL_') && k !== 'TEMPORAL_CLI');
  for (const key of ignored) delete process.env[key];
  if (ignored.length > 0) out(`Ignoring ${ignored.sort().join(', ')} from your shell: the demo talks only to the stack it starts.`);
}

function addressArgs(address: string): string[] {
  // Always named: a printed command pasted into a shell whose TEMPORAL_ADDRESS points elsewhere still reaches the demo's stack.
  return ['--address', address];
}

function addressFlag(address: string): string {
  return ` --address ${address}`;
}

/** Quotes for a POSIX shell, so a printed command can be pasted as is. */
export function shellCommand(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

async function runCli(cli: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(cli, args, { timeout: 60_000 });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? e.message}` };
  }
}

function clip(text: string, max = 180): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

function indent(text: string): string {
  return text.trim().split('\n').map((l) => `    ${l}`).join('\n');
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${name}="${raw}" is not a TCP port; use a number from 1 to 65535 or unset it.`);
  }
  return port;
}

if (require.main === module) {
  main().then(
    (code) => shutdown(code),
    (err: Error) => {
      // After Ctrl-C, calls cut short by the shutdown are expected; the interrupt handler reports.
      if (interrupted || exiting) return;
      out(`\nThe demo stopped: ${err.message}`);
      void shutdown(1);
    },
  );
}

