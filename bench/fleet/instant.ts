import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { startDeploy } from '../../src/client/deploys';
import type { Cleanup } from '../lib/cleanup';
import { readMemory, sampleMemory, startWorkerProcess, type WorkerProcess } from '../lib/processes';
import { progress } from '../lib/progress';
import type { BenchWorld } from '../lib/world';
import { describeRollout, kb, measureRollout, type RolloutFigures } from './rollout-figures';

export const STAND_IN_ENTRY = 'bench/fleet/stand-in-agents.ts';

export interface InstantFleetResult {
  hosts: number;
  agentProcesses: number;
  /** Activity pollers per host task queue. */
  pollsPerQueue: number;
  /** Starting each stand-in process (one Worker per host task queue) until ready, and its RSS then. */
  agentStarts: Array<{ hosts: number; startMs: number; rssMbWhenReady: number }>;
  rollout: RolloutFigures;
  memory: { workerPeakRssMb: number; agentPeakRssMb: number[] };
}

/**
 * A fleet of `hosts` hosts whose agents answer at once (bench/fleet/stand-in-agents.ts, `agentProcesses`
 * processes, one Worker per host task queue): what is left is the orchestrator and Temporal, so the run
 * shows the rollout's own cost and that no execution comes near Temporal's limits.
 */
export async function runInstantFleet(world: BenchWorld, cleanup: Cleanup, o: { hosts: number; agentProcesses: number; batchSize: string; polls: number }): Promise<InstantFleetResult> {
  const taskQueue = 'bench-fleet-instant';
  const hosts = Array.from({ length: o.hosts }, (_, i) => ({ name: `h-${i + 1}`, port: 20_000 + i }));
  const envFile = path.join(world.dataDir, 'fleet-instant.env');
  await fs.writeFile(envFile, '# the stand-in agents need no runtime configuration\n');
  const spec = {
    service: 'fleet-instant',
    source: { repository: world.dataDir },
    runtime: { command: ['true'] },
    preChecks: { minFreeDiskMb: 0 },
    health: { url: world.health.url, intervalMs: 10, windowMs: 5_000, requestTimeoutMs: 2_000, consecutiveSuccesses: 1, maxConsecutiveFailures: 1 },
    environments: {
      fleet: {
        config: { envFile },
        target: {
          type: 'fleet',
          root: path.join(world.dataDir, 'targets', 'fleet-instant'),
          hosts,
          batchSize: /%$/.test(o.batchSize) ? o.batchSize : Number(o.batchSize),
          hostTimeoutMs: 120_000,
        },
      },
    },
  };
  const specPath = path.join(world.dataDir, 'fleet-instant.yaml');
  await fs.writeFile(specPath, YAML.stringify(spec));

  const worker = await world.startDeployWorker('fleet-instant-worker', taskQueue);
  const workerMemory = sampleMemory(worker.pid, 500);
  const agents: WorkerProcess[] = [];
  const agentStarts: InstantFleetResult['agentStarts'] = [];
  const perAgent = Math.ceil(hosts.length / o.agentProcesses);
  for (let a = 0; a < o.agentProcesses; a++) {
    const served = hosts.slice(a * perAgent, (a + 1) * perAgent);
    if (served.length === 0) break;
    const startedAt = Date.now();
    const agent = await startWorkerProcess({
      name: `fleet-stand-in-${a + 1}`,
      entry: world.compiledEntry(STAND_IN_ENTRY),
      cwd: world.dataDir,
      logDir: world.logDir,
      cleanup,
      env: { TEMPORAL_ADDRESS: world.server.address, BENCH_HOSTS: served.map((h) => h.name).join(','), BENCH_POLLS: String(o.polls) },
    });
    agents.push(agent);
    const startMs = Date.now() - startedAt;
    const rssMbWhenReady = Math.round((await readMemory(agent.pid))?.rssMb ?? NaN);
    agentStarts.push({ hosts: served.length, startMs, rssMbWhenReady });
    progress(`instant fleet: stand-in agents ${a + 1}/${o.agentProcesses}: ${served.length} task queues ready in ${(startMs / 1000).toFixed(1)} s, RSS ${rssMbWhenReady} MB`);
  }

  progress(`instant fleet: deploying to ${hosts.length} hosts in batches of ${o.batchSize}`);
  const startedAt = Date.now();
  const handle = await startDeploy(world.client, { spec: specPath, environment: 'fleet', version: '1.0.0', requestedBy: 'bench' }, { taskQueue });
  const { figures } = await measureRollout(world, handle, { version: '1.0.0', startedAt, hosts: hosts.length });
  progress(`instant fleet: ${describeRollout(figures)}`);
  const l = figures.limits;
  progress(
    `instant fleet: ${l.executions} executions; max ${l.max.events} events, ${kb(l.max.historyBytes)} of history, ${l.max.pendingChildren} pending children, ` +
      `${l.max.pendingActivities} pending activities, largest payload ${kb(l.max.payloadBytes)} (${l.largestPayload.event} of ${l.largestPayload.workflowId}): ${l.withinLimits ? 'within' : 'BEYOND'} Temporal's limits`,
  );

  const agentPeakRssMb = await Promise.all(agents.map(async (a) => Math.round((await readMemory(a.pid))?.hwmMb ?? NaN)));
  const workerPeak = await workerMemory.stop();
  for (const a of agents) await a.stop();
  await worker.stop();
  return {
    hosts: hosts.length,
    agentProcesses: agents.length,
    pollsPerQueue: o.polls,
    agentStarts,
    rollout: figures,
    memory: { workerPeakRssMb: Math.round(workerPeak.hwmMb), agentPeakRssMb },
  };
}
