import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { hostTaskQueue, type HostActivities, type HostReleaseRef } from '../../src/agent/contract';

/**
 * Bench only: stand-in host agents that answer at once, for the 1,000-host fleet benchmark. One process
 * serves every host in BENCH_HOSTS (comma-separated), one activity-only Worker per host on the host's own
 * task queue (`deploys-host-<host>`, as Temporal requires one Worker per task queue), all sharing one
 * connection. What they measure is the orchestrator's and Temporal's side of a rollout: no process starts,
 * no artifact is fetched, every probe passes.
 *
 *   TEMPORAL_ADDRESS=127.0.0.1:7233 BENCH_HOSTS=h-1,h-2 BENCH_POLLS=1 node --import tsx bench/fleet/stand-in-agents.ts
 */

/** Each host remembers what it runs, so a second rollout reports the first one's release as previous. */
function standInAgent(host: string): HostActivities {
  let current: HostReleaseRef | null = null;
  return {
    async hostDeploy({ release }) {
      const ref = { releaseId: `${release.version}-${release.sha256.slice(0, 12)}`, version: release.version, sha256: release.sha256 };
      const previous = current;
      const noop = previous?.releaseId === ref.releaseId;
      current = ref;
      return { host, releaseId: ref.releaseId, noop, previous: noop ? null : previous };
    },
    async hostProbe() {
      return { host, passed: true, reason: 'stand-in agent: passes at once', samples: 1 };
    },
    async hostRollback({ to }) {
      current = to;
      return { host, restored: to };
    },
    async hostStatus() {
      return { host, current, running: current !== null, agent: { version: 1, root: '/nonexistent' } };
    },
  };
}

async function main(): Promise<void> {
  const hosts = (process.env.BENCH_HOSTS ?? '').split(',').filter(Boolean);
  const polls = Number(process.env.BENCH_POLLS ?? '1');
  if (hosts.length === 0) throw new Error('BENCH_HOSTS: list the hosts to serve, comma-separated');
  if (!Number.isInteger(polls) || polls < 1 || polls > 10) throw new Error('BENCH_POLLS: must be a whole number from 1 to 10');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const workers: Worker[] = [];
  for (const host of hosts) {
    workers.push(
      await Worker.create({
        connection,
        taskQueue: hostTaskQueue(host),
        activities: standInAgent(host),
        maxConcurrentActivityTaskExecutions: 10,
        maxConcurrentActivityTaskPolls: polls,
        shutdownGraceTime: '1s',
      }),
    );
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const running = Promise.all(workers.map((w) => w.run()));
  console.log(`worker ready: ${hosts.length} stand-in host agents (${polls} poller(s) each), ${hosts[0]} … ${hosts[hosts.length - 1]}`);
  try {
    await running;
  } finally {
    await connection.close();
  }
}

main().catch((err) => {
  console.error(`stand-in agents failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
