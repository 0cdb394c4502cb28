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
  /** The bare batch before the deploys. */
  bare: BatchResult;
  /** The bare batch after the deploys. */
  bareAfter: BatchResult;
  /** Mean of the two bare batches' rates. */
  barePerSecond: number;
  /** Mean of the two bare workers' peak RSS (VmHWM). */
  barePeakMb: number;
  bareStuck: number;
  bareFailed: number;
  /** deploy.perSecond / barePerSecond */
  ratio: number;
  /**
   * (workerMemory.deploy.hwmMb + commandRunnerPrivateMb) / barePeakMb: all workers ran the
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
  workerMemory: { deploy: MemoryResult; bare: MemoryResult; bareAfter: MemoryResult };
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
 * C deploys of distinct services (bench-svc-<i>) started at once on one fresh worker process, between two
 * batches of C bare workflows, each on its own fresh baseline worker process (before and after, so that a
 * change in the machine's load during the run weighs on both sides); the workers' memory is sampled while
 * they work. The bare side's rate and peak are the means of its two batches.
 */
export async function runThroughput(world: BenchWorld, o: { concurrency: number; deadlineMs: number; deployQueue: string }): Promise<{ result: ThroughputResult; deployWorker: WorkerProcess }> {
  const before = await runBareBatch(world, o, 'before');

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

  const after = await runBareBatch(world, o, 'after');
  const bareBatches = [before.batch, after.batch];
  const barePerSecond = (before.batch.perSecond + after.batch.perSecond) / 2;
  const barePeakMb = (before.memory.hwmMb + after.memory.hwmMb) / 2;
  return {
    deployWorker,
    result: {
      concurrency: o.concurrency,
      deadlineSeconds: o.deadlineMs / 1000,
      deploy,
      bare: before.batch,
      bareAfter: after.batch,
      barePerSecond: round(barePerSecond, 2),
      barePeakMb: round(barePeakMb),
      ratio: round(deploy.perSecond / barePerSecond, 2),
      memoryRatio: round((deployMemory.hwmMb + commandRunnerPrivateMb) / barePeakMb, 2),
      commandRunnerPrivateMb: round(commandRunnerPrivateMb),
      commandRunnerHwmMb: round(commandRunnerHwmMb),
      workerMemory: { deploy: roundMemory(deployMemory), bare: roundMemory(before.memory), bareAfter: roundMemory(after.memory) },
      bareStuck: bareBatches.reduce((n, b) => n + b.stuck, 0),
      bareFailed: bareBatches.reduce((n, b) => n + b.failed, 0),
    },
  };
}

/** C bare workflows at once on a fresh baseline worker of their own, which is stopped afterwards. */
async function runBareBatch(world: BenchWorld, o: { concurrency: number; deadlineMs: number }, when: 'before' | 'after'): Promise<{ batch: BatchResult; memory: MemoryResult }> {
  const queue = `bench-throughput-bare-${when}`;
  const worker = await world.startBaselineWorker(`throughput-bare-worker-${when}`, queue);
  try {
    progress(`throughput: ${o.concurrency} bare workflows at once (${when} the deploys)`);
    const idle = (await readMemory(worker.pid))?.rssMb ?? NaN;
    const sampler = sampleMemory(worker.pid);
    const batch = await runBatch(o.concurrency, o.deadlineMs, `bare (${when})`, async (i) => {
      const handle = await world.client.workflow.start('bareDeploy', { taskQueue: queue, workflowId: `bare-throughput-${when}-${i}` });
      return { handle, wait: async () => (await handle.result(), { ok: true }) };
    });
    return { batch, memory: { idleMb: idle, ...(await sampler.stop()) } };
  } finally {
    await worker.stop();
  }
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
