import { performance } from 'node:perf_hooks';
import type { WorkflowHandle } from '@temporalio/client';
import { deployOutcome, describeOutcome, instantSpec, startInstantDeploy } from '../lib/deploys';
import { childProcesses, readMemory, readPrivateMemory, sampleMemory, type WorkerProcess } from '../lib/processes';
import { profileHistory } from '../lib/history';
import { progress } from '../lib/progress';
import { summarizeProfiles, type ProfileSummary } from './overhead';
import { round } from '../lib/stats';
import type { BenchWorld } from '../lib/world';

export interface BatchResult {
  started: number;
  completed: number;
  failed: number;
  /** Not finished when the deadline passed (then terminated). */
  stuck: number;
  /** First start call to the last completion. */
  seconds: number;
  perSecond: number;
  /** Time to start all of them (client calls). */
  startSeconds: number;
  failures: string[];
  /** From the histories of the first 20 runs of the batch. */
  profile?: ProfileSummary;
}

export interface ThroughputResult {
  concurrency: number;
  deadlineSeconds: number;
  deploy: BatchResult;
  bare: BatchResult;
  /** deploy.perSecond / bare.perSecond */
  ratio: number;
  /**
   * (workerMemory.deploy.hwmMb + commandRunnerPrivateMb) / workerMemory.bare.hwmMb: both workers ran the
   * same batch size in this run; the deploy worker's command runner (the process that starts target commands
   * for it) counts with it.
   */
  memoryRatio: number;
  /**
   * Memory of the deploy worker's command runner process that it shares with no other process, after the
   * batch (its RSS, ≈ 55 MB, also counts the node executable's pages, which the worker has mapped too).
   */
  commandRunnerPrivateMb: number;
  /** The same runner's peak RSS (VmHWM), shared pages included. */
  commandRunnerHwmMb: number;
  workerMemory: { deploy: MemoryResult; bare: MemoryResult };
}

export interface MemoryResult {
  /** VmRSS right after the worker said it was ready, before the batch. */
  idleMb: number;
  /** Highest VmRSS sampled every 100 ms during the batch. */
  peakSampledMb: number;
  /** The kernel's peak RSS (VmHWM) of the worker process over its whole life (it ran only this batch). */
  hwmMb: number;
  samples: number;
}

/**
 * C deploys of distinct services (bench-svc-<i>) started at once on one fresh worker process, against C bare
 * workflows on one fresh baseline worker process; the worker's memory is sampled while it works.
 */
export async function runThroughput(world: BenchWorld, o: { concurrency: number; deadlineMs: number; deployQueue: string }): Promise<{ result: ThroughputResult; deployWorker: WorkerProcess }> {
  const bareQueue = 'bench-throughput-bare';
  const bareWorker = await world.startBaselineWorker('throughput-bare-worker', bareQueue);
  let bare: BatchResult;
  let bareMemory: MemoryResult;
  try {
    progress(`throughput: ${o.concurrency} bare workflows at once`);
    const idle = (await readMemory(bareWorker.pid))?.rssMb ?? NaN;
    const sampler = sampleMemory(bareWorker.pid);
    bare = await runBatch(o.concurrency, o.deadlineMs, 'bare', async (i) => {
      const handle = await world.client.workflow.start('bareDeploy', { taskQueue: bareQueue, workflowId: `bare-throughput-${i}` });
      return { handle, wait: async () => (await handle.result(), { ok: true }) };
    });
    bareMemory = { idleMb: idle, ...(await sampler.stop()) };
  } finally {
    await bareWorker.stop();
  }

  const specs = await Promise.all(
    Array.from({ length: o.concurrency }, (_, i) => instantSpec({ service: `bench-svc-${i}`, dataDir: world.dataDir, healthUrl: world.health.url })),
  );
  const deployWorker = await world.startDeployWorker('throughput-deploy-worker', o.deployQueue);
  progress(`throughput: ${o.concurrency} deploys of distinct services at once on one worker (pid ${deployWorker.pid})`);
  const idle = (await readMemory(deployWorker.pid))?.rssMb ?? NaN;
  const sampler = sampleMemory(deployWorker.pid);
  const deploy = await runBatch(o.concurrency, o.deadlineMs, 'deploy', async (i) => {
    const handle = await startInstantDeploy(world.client, o.deployQueue, specs[i]!, '1.0.0');
    return {
      handle,
      wait: async () => {
        const out = await deployOutcome(handle);
        return out.outcome === 'succeeded' ? { ok: true } : { ok: false, why: `bench-svc-${i}: ${describeOutcome(out)}` };
      },
    };
  });
  const deployMemory = { idleMb: idle, ...(await sampler.stop()) };
  let commandRunnerHwmMb = 0;
  let commandRunnerPrivateMb = 0;
  for (const pid of await childProcesses(deployWorker.pid, /runner-process\.(js|ts)/)) {
    commandRunnerHwmMb += (await readMemory(pid))?.hwmMb ?? 0;
    commandRunnerPrivateMb += (await readPrivateMemory(pid)) ?? 0;
  }
  return {
    deployWorker,
    result: {
      concurrency: o.concurrency,
      deadlineSeconds: o.deadlineMs / 1000,
      deploy,
      bare,
      ratio: round(deploy.perSecond / bare.perSecond, 2),
      memoryRatio: round((deployMemory.hwmMb + commandRunnerPrivateMb) / bareMemory.hwmMb, 2),
      commandRunnerPrivateMb: round(commandRunnerPrivateMb),
      commandRunnerHwmMb: round(commandRunnerHwmMb),
      workerMemory: { deploy: roundMemory(deployMemory), bare: roundMemory(bareMemory) },
    },
  };
}

async function runBatch(
  count: number,
  deadlineMs: number,
  label: string,
  startOne: (i: number) => Promise<{ handle: WorkflowHandle; wait: () => Promise<{ ok: boolean; why?: string }> }>,
): Promise<BatchResult> {
  const t0 = performance.now();
  const started = await Promise.all(Array.from({ length: count }, (_, i) => startOne(i)));
  const startSeconds = (performance.now() - t0) / 1000;
  let completed = 0;
  let failed = 0;
  let last = t0;
  const failures: string[] = [];
  const done = new Set<number>();
  const ticker = setInterval(() => progress(`throughput ${label}: ${done.size}/${count} finished`), 10_000);
  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (deadlineTimer = setTimeout(resolve, Math.max(0, deadlineMs - (performance.now() - t0)))));
  try {
    await Promise.race([
      deadline,
      Promise.all(
        started.map(async ({ wait }, i) => {
          const r = await wait().catch((err: Error) => ({ ok: false, why: err.message }));
          done.add(i);
          last = performance.now();
          if (r.ok) completed++;
          else {
            failed++;
            if (failures.length < 5) failures.push(r.why ?? 'unknown');
          }
        }),
      ),
    ]);
  } finally {
    clearTimeout(deadlineTimer);
    clearInterval(ticker);
  }
  const stuckOnes = started.filter((_, i) => !done.has(i));
  const profiled = started.filter((_, i) => done.has(i)).slice(0, 20);
  const profile = profiled.length ? summarizeProfiles(await Promise.all(profiled.map(({ handle }) => profileHistory(handle)))) : undefined;
  for (const { handle } of stuckOnes) await handle.terminate('bench deadline passed').catch(() => undefined);
  const seconds = (last - t0) / 1000;
  return {
    started: count,
    completed,
    failed,
    stuck: stuckOnes.length,
    seconds: round(seconds, 2),
    perSecond: round(completed / seconds, 2),
    startSeconds: round(startSeconds, 2),
    failures,
    profile,
  };
}

function roundMemory(m: MemoryResult): MemoryResult {
  return { idleMb: round(m.idleMb), peakSampledMb: round(m.peakSampledMb), hwmMb: round(m.hwmMb), samples: m.samples };
}
