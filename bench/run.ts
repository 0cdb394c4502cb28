import os from 'node:os';
import { Cleanup } from './lib/cleanup';
import { machineInfo } from './lib/machine';
import { HelpRequested, parseOptions, USAGE, type BenchOptions } from './lib/options';
import type { WorkerProcess } from './lib/processes';
import { progress } from './lib/progress';
import { formatTable, judge, verdictLine, type BenchReport } from './lib/report';
import { ADMIN_URL, startBenchWorld } from './lib/world';
import { runOverhead, type OverheadResult } from './scenarios/overhead';
import { runRecovery, type RecoveryResult } from './scenarios/recovery';
import { runRollback, type RollbackResult } from './scenarios/rollback';
import { runThroughput, type ThroughputResult } from './scenarios/throughput';

/**
 * `npm run bench`: the orchestrator against a bare Temporal workflow on the same dev server in the same run
 * (overhead, throughput), plus rollback MTTR, crash recovery and worker memory. Everything it starts (dev
 * server, worker processes, databases, temp directory, service processes) is removed at the end, also on
 * Ctrl-C. `--json` prints one JSON object on stdout.
 */
async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }

  const cleanup = new Cleanup();
  cleanup.installSignalHandlers();
  const startedAt = new Date();
  const errors: Record<string, string> = {};
  let overhead: OverheadResult | null = null;
  let throughput: ThroughputResult | null = null;
  let rollback: RollbackResult | null = null;
  let recovery: RecoveryResult | null = null;
  let report: BenchReport;
  try {
    const world = await startBenchWorld(cleanup);
    const machine = await machineInfo(world.cliVersion, ADMIN_URL);
    progress(`machine: ${machine.nproc} CPUs, ${machine.memoryGb} GB, Node ${machine.node}, load average ${machine.loadAverageStart}`);

    const attempt = async <T>(name: string, run: () => Promise<T>): Promise<T | null> => {
      try {
        progress(`--- ${name}`);
        return await run();
      } catch (err) {
        errors[name] = (err as Error).message;
        progress(`${name} FAILED: ${(err as Error).stack ?? err}`);
        return null;
      }
    };

    const mainQueue = 'bench-deploys';
    let mainWorker: WorkerProcess | undefined;
    if (options.only.has('overhead')) overhead = await attempt('overhead', () => runOverhead(world, { n: options.n, warmup: options.warmup }));
    if (options.only.has('throughput')) {
      throughput = await attempt('throughput', async () => {
        const r = await runThroughput(world, { concurrency: options.concurrency, deadlineMs: options.deadlineMs, deployQueue: mainQueue });
        mainWorker = r.deployWorker;
        return r.result;
      });
    }
    if (options.only.has('rollback')) {
      rollback = await attempt('rollback', async () => {
        mainWorker ??= await world.startDeployWorker('deploy-worker', mainQueue);
        return runRollback(world, cleanup, { taskQueue: mainQueue, trials: options.rollbackTrials });
      });
    }
    await mainWorker?.stop();
    if (options.only.has('recovery')) recovery = await attempt('recovery', () => runRecovery(world, { heartbeatMs: options.heartbeatMs }));

    machine.loadAverageEnd = Math.round(os.loadavg()[0]! * 100) / 100;
    const partial: Omit<BenchReport, 'targets'> = {
      overheadRatio: overhead?.ratio ?? null,
      throughputRatio: throughput?.ratio ?? null,
      rollbackMttrMs: rollback?.medianMs ?? null,
      recoveryMs: recovery?.recoveryMs ?? null,
      heartbeatTimeoutMs: recovery?.heartbeatTimeoutMs ?? null,
      workerPeakRssMb: throughput?.workerMemory.deploy.hwmMb ?? null,
      bareWorkerPeakRssMb: throughput?.barePeakMb ?? null,
      workerPeakRssRatio: throughput?.memoryRatio ?? null,
      stuck: throughput ? throughput.deploy.stuck + throughput.bareStuck : null,
      overheadMedianMs: overhead ? { deploy: overhead.deploy.medianMs, bare: overhead.bare.medianMs } : null,
      overheadP95Ms: overhead ? { deploy: overhead.deploy.p95Ms, bare: overhead.bare.p95Ms } : null,
      throughputPerSecond: throughput ? { deploy: throughput.deploy.perSecond, bare: throughput.barePerSecond } : null,
      overhead,
      throughput,
      rollback,
      recovery,
      machine,
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      options: { ...options, only: [...options.only] },
      startedAt: startedAt.toISOString(),
      durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      errors,
    };
    report = { ...partial, targets: judge(partial) };
  } finally {
    progress('cleaning up');
    await cleanup.run();
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    if (throughput) progress(verdictLine(report));
  }
  else process.stdout.write(`${formatTable(report)}\n`);
  return Object.keys(errors).length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    progress(`bench failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
