import { promises as fs } from 'node:fs';
import path from 'node:path';
import { BENCH_ENVIRONMENT, deployOutcome, describeOutcome, instantSpec, startInstantDeploy } from '../lib/deploys';
import { profileHistory } from '../lib/history';
import { childProcessGroups, killGroup, type WorkerProcess } from '../lib/processes';
import { progress } from '../lib/progress';
import type { BenchWorld } from '../lib/world';

export interface RecoveryRun {
  /** standby: the second worker already polls the queue when the first is killed; restart: it is started after the kill. */
  mode: 'standby' | 'restart';
  /** SIGKILL of the worker → ActivityTaskCompleted of the interrupted stage (server clock). */
  recoveryMs: number;
  /** How long the stage had been running when the worker was killed. */
  killedAfterMs: number;
  /** SIGKILL → the second worker printed "worker ready" (negative: it was ready before the kill). */
  secondWorkerReadyMs: number;
  /** SIGKILL → the attempt that finished the stage started (server clock). */
  retryStartedMs: number;
  attempts: number;
}

export interface RecoveryResult {
  /** The standby run's recoveryMs: the orchestrator's own recovery, with a worker available to take over. */
  recoveryMs: number;
  /** The restart run's recoveryMs: includes starting a worker process from scratch. */
  recoveryWithRestartMs: number;
  heartbeatTimeoutMs: number;
  stage: string;
  runs: RecoveryRun[];
}

const KILL_AFTER_MS = 1_500;

/**
 * A real worker process is killed with SIGKILL in the middle of the deploy stage, and a second worker
 * finishes the stage. The stage's command applies the release and then waits for a rollout (120 s) on the
 * first attempt; a retry finds the release applied and returns at once, as an idempotent target command
 * does. So what is measured is the orchestrator's recovery: noticing the dead worker (heartbeat timeout),
 * the retry's backoff, and the second worker taking the stage over. Run twice: with the second worker
 * already running (a second replica), and with it started only after the kill (a supervisor restart).
 */
export async function runRecovery(world: BenchWorld, o: { heartbeatMs: number }): Promise<RecoveryResult> {
  const runs: RecoveryRun[] = [];
  for (const mode of ['standby', 'restart'] as const) {
    progress(`recovery (${mode}): heartbeat timeout ${o.heartbeatMs} ms`);
    runs.push(await recoverOnce(world, mode, o.heartbeatMs));
    progress(`recovery (${mode}): the deploy stage completed ${runs.at(-1)!.recoveryMs} ms after the kill`);
  }
  return {
    recoveryMs: runs[0]!.recoveryMs,
    recoveryWithRestartMs: runs[1]!.recoveryMs,
    heartbeatTimeoutMs: o.heartbeatMs,
    stage: 'deploy',
    runs,
  };
}

async function recoverOnce(world: BenchWorld, mode: 'standby' | 'restart', heartbeatMs: number): Promise<RecoveryRun> {
  const service = `bench-recovery-${mode}`;
  const queue = `bench-recovery-${mode}`;
  const workDir = path.join(world.dataDir, 'orchestrator', 'work', 'command', service, BENCH_ENVIRONMENT);
  const spec = await instantSpec({
    service,
    dataDir: world.dataDir,
    healthUrl: world.health.url,
    heartbeatMs,
    // The version arrives as $1 (its own argv element), never inside the script text.
    deploy: ['sh', '-c', 'if [ -e "applied-$1" ]; then exit 0; fi; : > "applied-$1"; exec sleep 120', 'rollout', '{version}'],
  });
  const first = await world.startDeployWorker(`recovery-${mode}-worker-1`, queue);
  let second: WorkerProcess | undefined;
  try {
    const handle = await startInstantDeploy(world.client, queue, spec, '1.0.0');
    // Only the first worker polls the queue until the stage runs there.
    const appliedAt = await waitForFile(path.join(workDir, 'applied-1.0.0'), 60_000);
    let secondReadyAt = NaN;
    if (mode === 'standby') {
      second = await world.startDeployWorker(`recovery-${mode}-worker-2`, queue);
      secondReadyAt = Date.now();
    }
    await new Promise((r) => setTimeout(r, KILL_AFTER_MS));
    const orphans = await childProcessGroups(first.pid);
    const killedAt = Date.now();
    first.kill();
    progress(`recovery (${mode}): killed worker pid ${first.pid} with SIGKILL ${killedAt - appliedAt} ms into the deploy stage`);
    // The stage's command outlives the killed worker (its own process group), as in a real crash; end it.
    for (const pgid of orphans) killGroup(pgid);
    if (mode === 'restart') {
      second = await world.startDeployWorker(`recovery-${mode}-worker-2`, queue);
      secondReadyAt = Date.now();
    }
    const outcome = await deployOutcome(handle);
    if (outcome.outcome !== 'succeeded') throw new Error(`recovery benchmark (${mode}): the deploy ended ${describeOutcome(outcome)}, expected succeeded`);
    const profile = await profileHistory(handle);
    const stage = profile.activities.find((a) => a.name === 'deploy');
    if (!stage?.closedAtMs || stage.closedAs !== 'completed') throw new Error(`recovery benchmark (${mode}): no ActivityTaskCompleted for the deploy stage in history`);
    return {
      mode,
      recoveryMs: stage.closedAtMs - killedAt,
      killedAfterMs: killedAt - appliedAt,
      secondWorkerReadyMs: secondReadyAt - killedAt,
      retryStartedMs: (stage.startedAtMs ?? NaN) - killedAt,
      attempts: stage.attempt ?? 0,
    };
  } finally {
    first.kill();
    await second?.stop();
  }
}

async function waitForFile(file: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fs.access(file);
      return Date.now();
    } catch {
      if (Date.now() > deadline) throw new Error(`recovery benchmark: the deploy stage did not start within ${timeoutMs} ms (${file} never appeared)`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
