import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { Client as PgClient } from 'pg';
import net from 'node:net';
import { prepareExample } from '../../scripts/lib/example';
import { startDeploy } from '../../src/client/deploys';
import { createLocalTarget } from '../../src/targets';
import type { Cleanup } from '../lib/cleanup';
import { readMemory, REPO_ROOT, sampleMemory, startWorkerProcess, type WorkerProcess } from '../lib/processes';
import { progress } from '../lib/progress';
import { ADMIN_URL, type BenchWorld } from '../lib/world';
import { describeRollout, measureRollout, type RolloutFigures } from './rollout-figures';

export const AGENT_ENTRY = 'src/agent/main.ts';

export interface RealFleetResult {
  hosts: number;
  agentProcesses: number;
  batchSize: number;
  /** Starting every agent process (they start one after the other) until each printed "agent ready". */
  agentsStartMs: number;
  /** The first deploy (nothing ran before) and the update that replaces it on every host. */
  first: RolloutFigures;
  update: RolloutFigures;
  memory: {
    workerPeakRssMb: number;
    /** VmHWM of each agent process. */
    agentPeakRssMb: number[];
    /** The service's processes (one per host) at the end: their total and median RSS. */
    serviceRssTotalMb: number;
    serviceRssMedianMb: number;
  };
  /** The most PostgreSQL connections open at once (every database; sampled every 500 ms): the services' pools share the server's max_connections. */
  peakPgConnections: number;
  pgMaxConnections: number;
}

/**
 * A fleet of `hosts` hosts of the example service on this machine, served by `agentProcesses` real host
 * agents (`npm run agent -- --host …`, each serving many hosts, each host with its own task queue, root and
 * port), deployed by the real orchestrator worker: 1.0.0 first, then 1.1.0 over it, batches of `batchSize`,
 * no front door (HAProxy serves at most 64 servers), the validate stage probing the first host's /readyz.
 */
export async function runRealFleet(world: BenchWorld, cleanup: Cleanup, o: { hosts: number; agentProcesses: number; batchSize: string }): Promise<RealFleetResult> {
  const taskQueue = 'bench-fleet-real';
  const exampleDir = path.join(world.dataDir, 'example');
  const dbPrefix = `bench_${world.runId}_hello`;
  world.trackDatabase(`${dbPrefix}_fleet`);
  progress('real fleet: preparing the hello-service example (source repository, database, config)');
  const example = await prepareExample({ dataDir: exampleDir, adminUrl: ADMIN_URL, dbPrefix, environments: ['fleet'] });

  const ports = await portBlock(o.hosts);
  const hosts = ports.map((port, i) => ({ name: `web-${i + 1}`, port }));
  const agentRoot = path.join(world.dataDir, 'agents');
  const spec = YAML.parse(await fs.readFile(path.join(REPO_ROOT, 'examples/hello-service/deploy.yaml'), 'utf8'));
  spec.source.repository = example.sourceRepo;
  // The fleet environment has no gates: no approver keys are needed.
  delete spec.trust;
  delete spec.environments.staging;
  delete spec.environments.production;
  const fleet = spec.environments.fleet;
  fleet.config.envFile = example.envFiles.fleet;
  fleet.target.root = path.join(world.dataDir, 'targets', 'fleet');
  fleet.target.hosts = hosts;
  fleet.target.batchSize = /%$/.test(o.batchSize) ? o.batchSize : Number(o.batchSize);
  delete fleet.target.frontDoor;
  // Without a front door there is no fleet-wide URL: the validate stage analyses the first host's readiness.
  fleet.health = { url: `http://127.0.0.1:${hosts[0]!.port}/readyz` };
  const specPath = path.join(world.dataDir, 'hello-service-fleet.yaml');
  await fs.writeFile(specPath, YAML.stringify(spec));

  // Cleanup runs in reverse: registered before the agents start, so the agents are stopped first and
  // nothing restarts a service while its host is being cleared.
  cleanup.add(`stop the hello-service processes of ${hosts.length} hosts`, async () => {
    for (let i = 0; i < hosts.length; i += 10) {
      await Promise.all(
        hosts.slice(i, i + 10).map((h) =>
          createLocalTarget({ root: path.join(agentRoot, h.name, 'hello-service', 'fleet'), command: ['node'], port: h.port, keepReleases: 5, stopTimeoutMs: 2000 })
            .rollback(null, {})
            .catch(() => undefined),
        ),
      );
    }
  });

  const pg = new PgClient({ connectionString: ADMIN_URL });
  await pg.connect();
  cleanup.add('close the PostgreSQL sampler', () => pg.end());
  const pgMaxConnections = Number((await pg.query('SHOW max_connections')).rows[0]?.max_connections);
  let peakPgConnections = 0;
  let sampling = true;
  const pgSampler = (async () => {
    while (sampling) {
      const n = Number((await pg.query('SELECT count(*)::int AS n FROM pg_stat_activity').catch(() => ({ rows: [{ n: 0 }] }))).rows[0]?.n ?? 0);
      peakPgConnections = Math.max(peakPgConnections, n);
      await new Promise((r) => setTimeout(r, 500));
    }
  })();

  const worker = await world.startDeployWorker('fleet-real-worker', taskQueue);
  const workerMemory = sampleMemory(worker.pid, 500);
  const agents: WorkerProcess[] = [];
  const perAgent = Math.ceil(hosts.length / o.agentProcesses);
  const agentsStartedAt = Date.now();
  for (let a = 0; a < o.agentProcesses; a++) {
    const served = hosts.slice(a * perAgent, (a + 1) * perAgent);
    if (served.length === 0) break;
    progress(`real fleet: starting agent ${a + 1}/${o.agentProcesses} for ${served.length} hosts (${served[0]!.name} … ${served[served.length - 1]!.name})`);
    agents.push(
      await startWorkerProcess({
        name: `fleet-agent-${a + 1}`,
        entry: world.compiledEntry(AGENT_ENTRY),
        args: served.flatMap((h) => ['--host', h.name]),
        readyLine: 'agent ready',
        cwd: world.dataDir,
        logDir: world.logDir,
        cleanup,
        env: {
          TEMPORAL_ADDRESS: world.server.address,
          DEPLOY_DATABASE_URL: world.orchestratorDbUrl,
          DEPLOY_AGENT_ROOT: agentRoot,
          WORKER_SHUTDOWN_GRACE_MS: '2000',
          LOG_LEVEL: 'WARN',
        },
      }),
    );
  }
  const agentsStartMs = Date.now() - agentsStartedAt;
  progress(`real fleet: ${agents.length} agents serving ${hosts.length} hosts ready in ${(agentsStartMs / 1000).toFixed(1)} s`);

  const rollout = async (version: string): Promise<RolloutFigures> => {
    progress(`real fleet: deploying hello-service ${version} to ${hosts.length} hosts in batches of ${o.batchSize}`);
    const startedAt = Date.now();
    const handle = await startDeploy(world.client, { spec: specPath, environment: 'fleet', version, requestedBy: 'bench' }, { taskQueue });
    const { figures } = await measureRollout(world, handle, { version, startedAt, hosts: hosts.length });
    progress(`real fleet: ${describeRollout(figures)}`);
    return figures;
  };
  const first = await rollout('1.0.0');
  const update = await rollout('1.1.0');

  // Every host answers with the new release (the service's / names its version).
  const wrong: string[] = [];
  for (const h of hosts) {
    const v = await fetch(`http://127.0.0.1:${h.port}/`, { signal: AbortSignal.timeout(3000) })
      .then((r) => r.json() as Promise<{ version?: string }>)
      .catch(() => ({ version: undefined }));
    if (v.version !== '1.1.0') wrong.push(`${h.name}: ${v.version ?? 'no answer'}`);
  }
  if (wrong.length > 0) throw new Error(`after the 1.1.0 rollout ${wrong.length} host(s) do not answer 1.1.0: ${wrong.slice(0, 5).join(', ')}`);

  const services = await serviceMemory(agentRoot, hosts.map((h) => h.name));
  const agentPeakRssMb = await Promise.all(agents.map(async (a) => Math.round((await readMemory(a.pid))?.hwmMb ?? NaN)));
  const workerPeak = await workerMemory.stop();
  sampling = false;
  await pgSampler;
  for (const a of agents) await a.stop();
  await worker.stop();
  return {
    hosts: hosts.length,
    agentProcesses: agents.length,
    batchSize: update.batchSize,
    agentsStartMs,
    first,
    update,
    memory: { workerPeakRssMb: Math.round(workerPeak.hwmMb), agentPeakRssMb, serviceRssTotalMb: services.totalMb, serviceRssMedianMb: services.medianMb },
    peakPgConnections,
    pgMaxConnections,
  };
}

/** RSS of each host's service process, found through the local target's pidfile. */
async function serviceMemory(agentRoot: string, hosts: string[]): Promise<{ totalMb: number; medianMb: number }> {
  const rss: number[] = [];
  for (const h of hosts) {
    const dir = path.join(agentRoot, h, 'hello-service', 'fleet');
    const pid = await findPid(dir);
    const m = pid ? await readMemory(pid) : null;
    if (m) rss.push(m.rssMb);
  }
  rss.sort((a, b) => a - b);
  return { totalMb: Math.round(rss.reduce((a, b) => a + b, 0)), medianMb: Math.round(rss[Math.floor(rss.length / 2)] ?? NaN) };
}

/** The service's pid from the local target's pidfile (`service.pid`, JSON with `pid`). */
async function findPid(targetRoot: string): Promise<number | undefined> {
  const text = await fs.readFile(path.join(targetRoot, 'service.pid'), 'utf8').catch(() => '');
  try {
    const pid = (JSON.parse(text) as { pid?: unknown }).pid;
    return typeof pid === 'number' && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `n` distinct free ports below the kernel's ephemeral range (32768+). A port handed out by the OS (port 0)
 * may be handed out again to anyone's outgoing connection or test before the last host of a 100-host
 * rollout starts a minute later; one below that range is taken only by an explicit bind.
 */
async function portBlock(n: number): Promise<number[]> {
  const out: number[] = [];
  let port = 20_000 + Math.floor(Math.random() * 10_000);
  while (out.length < n) {
    if (port >= 32_000) port = 20_000;
    if (await canBind(port)) out.push(port);
    port++;
  }
  return out;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
