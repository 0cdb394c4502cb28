import { spawnHostAgent, type AgentProcess } from './host-agents';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import YAML from 'yaml';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { loadWorkerConfig, type WorkerConfig } from '../../src/config';
import { createDeployWorker, type DeployWorker } from '../../src/worker/create';
import { startDeploy } from '../../src/client/deploys';
import { FrontDoor } from '../../src/traffic';
import { createLocalTarget } from '../../src/targets';
import { approveSignal, statusQuery } from '../../src/workflows/definitions';
import { fetchOutcome } from '../../src/client/outcome';
import { signDecision, signDeployRequest } from '../../src/client/signing';
import { ensureKeys, writeAllowedSigners } from '../../src/trust/keys';
import type { SignedDecision } from '../../src/trust/statement';
import type { DeployResult, DeployStatusView } from '../../src/workflows/types';
import { freePort } from '../../scripts/lib/dev-server';
import { prepareExample, type ExampleWorld } from '../../scripts/lib/example';
import { ADMIN_DATABASE_URL, createTestDatabase, type TestDatabase } from './pg';
import { startTestTemporal, type TestTemporal } from './temporal';

export const REPO_ROOT = path.resolve(__dirname, '../..');

export interface DeployWorld {
  temporal: TestTemporal;
  client: Client;
  dataDir: string;
  specPath: string;
  spec: Record<string, any>;
  example: ExampleWorld;
  orchestratorDb: TestDatabase;
  ports: { staging: number; production: number };
  workerEnv: Record<string, string>;
  config: WorkerConfig;
  /** Changes the spec file the next deploys plan from (e.g. gates for one scenario); `spec` is changed in place. */
  updateSpec(mutate: (spec: Record<string, any>) => void): Promise<void>;
  /** Starts an in-process worker (bundling the workflow code) unless one is running. */
  startWorker(): Promise<DeployWorker>;
  stopWorker(): Promise<void>;
  /** Starts `npm run worker` as a real process (for crash tests); an `undefined` in extraEnv unsets that variable. */
  spawnWorker(extraEnv?: Record<string, string | undefined>): Promise<ChildProcess>;
  /** Everything a spawned worker wrote to stdout and stderr so far (kept for the whole run). */
  workerOutput(child: ChildProcess): string;
  /** Starts a deploy; the request is signed with the requester's demo key when there is one. */
  deploy(input: { environment: string; version: string; requestedBy?: string; reason?: string }): Promise<WorkflowHandle>;
  /** The private key of alice, bob, carol, dave (listed in allowed_signers) or mallory (not listed); undefined for anyone else. */
  keyOf(name: string): string | undefined;
  /** Signs `decision` by `by` for the gate (or intervention) the deploy waits at, from its status query. */
  sign(handle: WorkflowHandle, decision: SignedDecision, by: string): Promise<string>;
  /** Sends a signed approve signal as `by`. */
  approve(handle: WorkflowHandle, by: string, comment?: string): Promise<void>;
  outcome(handle: WorkflowHandle): Promise<{ status: string; result: DeployResult }>;
  status(handle: WorkflowHandle): Promise<DeployStatusView>;
  waitForStatus(handle: WorkflowHandle, pred: (s: DeployStatusView) => boolean, timeoutMs?: number): Promise<DeployStatusView>;
  get(environment: 'staging' | 'production', urlPath: string): Promise<{ status: number; body: any }>;
  targetRoot(environment: string): string;
  /** Host agents (real processes) serving fleet hosts, with this world's Temporal, registry and data directory. */
  spawnAgents(hosts: string[]): Promise<AgentProcess>;
  /** Where a fleet host's agent keeps the example's releases: `<dataDir>/agents/<host>/hello-service/fleet`. */
  hostRoot(host: string): string;
  cleanup(): Promise<void>;
}

/**
 * One isolated world per test file: its own Temporal dev server (or an existing server it attaches to),
 * orchestrator database, example service databases, data directory and service ports, with the example
 * spec rewritten to point at them.
 */
export async function startDeployWorld(
  o: {
    specOverrides?: (spec: Record<string, any>) => void;
    /** Start the dev server's Web UI too (browser tests). */
    ui?: boolean;
    /** Attach to this running server instead of starting a dev server; cleanup() leaves it running (its owner stops it). */
    temporal?: TestTemporal;
  } = {},
): Promise<DeployWorld> {
  const ownsTemporal = o.temporal === undefined;
  const temporal = o.temporal ?? (await startTestTemporal({ ui: o.ui }));
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'deploy-world-'));
  const orchestratorDb = await createTestDatabase('orch');
  const prefix = `t_hello_${randomBytes(3).toString('hex')}`;
  const example = await prepareExample({ dataDir, adminUrl: ADMIN_DATABASE_URL, dbPrefix: prefix, allowedSignersFile: path.join(dataDir, 'allowed_signers') });
  // dave may sign (a requester who is no approver); mallory has a key that no allowed_signers line lists.
  const extra = await ensureKeys(path.join(dataDir, 'keys'), ['dave', 'mallory']);
  const signers = await ensureKeys(path.join(dataDir, 'keys'), ['alice', 'bob', 'carol', 'dave']);
  await writeAllowedSigners(example.allowedSigners, signers.map((k) => ({ principal: k.name, publicKeyLine: k.publicKeyLine })));
  const keys: Record<string, string> = Object.fromEntries([...signers, ...extra].map((k) => [k.name, k.privateKeyFile]));
  const ports = { staging: await freePort(), production: await freePort() };

  const spec = YAML.parse(await fs.readFile(path.join(REPO_ROOT, 'examples/hello-service/deploy.yaml'), 'utf8'));
  spec.source.repository = example.sourceRepo;
  spec.trust = { allowedSigners: 'allowed_signers' };
  spec.timeouts = { heartbeatMs: 3000 };
  spec.health = { ...spec.health, intervalMs: 100, windowMs: 8000, requestTimeoutMs: 2000, consecutiveSuccesses: 4, maxConsecutiveFailures: 3, maxP95LatencyMs: 2000 };
  for (const env of ['staging', 'production'] as const) {
    spec.environments[env].config.envFile = example.envFiles[env];
    spec.environments[env].target.root = path.join(dataDir, 'targets', env);
    spec.environments[env].target.port = ports[env];
    spec.environments[env].target.stopTimeoutMs = 3000;
  }
  // The fleet environment: its own root and free ports for the front door and each host.
  const fleetEnv = spec.environments.fleet;
  if (fleetEnv) {
    fleetEnv.config.envFile = example.envFiles.fleet;
    fleetEnv.target.root = path.join(dataDir, 'targets', 'fleet');
    fleetEnv.target.frontDoor = { port: await freePort() };
    for (const host of fleetEnv.target.hosts as Array<{ port: number }>) host.port = await freePort();
  }
  // The example's strategies (canary staging, blue/green production) are the traffic tests' subject; the
  // rest of the suite deploys with replace, so ports and processes are the service's own.
  for (const env of Object.values(spec.environments) as Array<Record<string, unknown>>) delete env.strategy;
  o.specOverrides?.(spec);
  const specPath = path.join(dataDir, 'deploy.yaml');
  await fs.writeFile(specPath, YAML.stringify(spec));

  const workerEnv: Record<string, string> = {
    TEMPORAL_ADDRESS: temporal.address,
    DEPLOY_DATABASE_URL: orchestratorDb.url,
    DEPLOY_DATA_DIR: dataDir,
    DEPLOY_TASK_QUEUE: 'deploys',
    WORKER_HEALTH_PORT: '0',
    WORKER_SHUTDOWN_GRACE_MS: '2000',
    // The hostile suite sends inline specs; the worker refuses them (and always for a gated environment) otherwise.
    DEPLOY_ALLOW_INLINE_SPECS: 'true',
  };
  const config = loadWorkerConfig(workerEnv);
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });

  let worker: DeployWorker | undefined;
  let running: Promise<void> | undefined;
  const children = new Set<ChildProcess>();
  const agents = new Set<AgentProcess>();
  const outputs = new WeakMap<ChildProcess, { text: string }>();

  const world: DeployWorld = {
    temporal, client, dataDir, specPath, spec, example, orchestratorDb, ports, workerEnv, config,
    async updateSpec(mutate) {
      mutate(spec);
      await fs.writeFile(specPath, YAML.stringify(spec));
    },
    async startWorker() {
      if (worker) return worker;
      worker = await createDeployWorker({ config, cwd: dataDir });
      running = worker.run();
      return worker;
    },
    async stopWorker() {
      if (!worker) return;
      worker.worker.shutdown();
      await running;
      worker = undefined;
    },
    async spawnWorker(extraEnv = {}) {
      // tsx by absolute URL: the worker's cwd is the temp data dir, where a bare 'tsx' does not resolve.
      const child = spawn(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(REPO_ROOT, 'src/worker/main.ts')], {
        cwd: dataDir,
        env: { ...process.env, ...workerEnv, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      child.on('exit', () => children.delete(child));
      const out = { text: '' };
      outputs.set(child, out);
      await new Promise<void>((resolve, reject) => {
        const onData = (d: Buffer) => {
          out.text += d.toString();
          if (out.text.includes('worker ready')) resolve();
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', (d: Buffer) => (out.text += d.toString()));
        child.once('exit', (code) => reject(new Error(`worker exited with ${code} before ready:\n${out.text}`)));
      });
      return child;
    },
    workerOutput(child) {
      return outputs.get(child)?.text ?? '';
    },
    async deploy(input) {
      const full = { spec: specPath, requestedBy: 'carol', ...input };
      const key = world.keyOf(full.requestedBy);
      // Requests are signed by the requester's demo key when there is one (a signed gate requires it).
      const signed = key ? await signDeployRequest(full, { workflowId: `deploy-hello-service-${full.environment}`, service: 'hello-service', keyFile: key }) : full;
      return startDeploy(client, signed, { taskQueue: 'deploys' });
    },
    keyOf(name) {
      return keys[name];
    },
    async sign(handle, decision, by) {
      // Retried like waitForStatus: right after a worker restart the query may find no poller yet.
      const s = await world.waitForStatus(handle, () => true);
      const context = decision.startsWith('intervene')
        ? s.pendingIntervention?.sign
        : decision === 'promote' || (!s.pendingGate && s.pendingPromotion)
          ? s.pendingPromotion?.sign
          : s.pendingGate?.sign;
      if (!context) throw new Error(`${handle.workflowId} shows nothing to sign for ${decision} (status ${s.status})`);
      const key = world.keyOf(by);
      if (!key) throw new Error(`no demo key for ${by}`);
      return signDecision(context, decision, by, key);
    },
    async approve(handle, by, comment) {
      await handle.signal(approveSignal, { by, comment, signature: await world.sign(handle, 'approve', by) });
    },
    async outcome(handle) {
      const ending = await fetchOutcome(handle);
      return { status: ending.outcome, result: ending.result as DeployResult };
    },
    async status(handle) {
      return handle.query(statusQuery);
    },
    async waitForStatus(handle, pred, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: DeployStatusView | undefined;
      while (Date.now() < deadline) {
        last = await handle.query(statusQuery).catch(() => last);
        if (last && pred(last)) return last;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`timed out waiting for deploy status; last: ${JSON.stringify(last && { status: last.status, stage: last.stage })}`);
    },
    async get(environment, urlPath) {
      const res = await fetch(`http://127.0.0.1:${ports[environment]}${urlPath}`, { signal: AbortSignal.timeout(3000) });
      const text = await res.text();
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* plain text */
      }
      return { status: res.status, body };
    },
    targetRoot(environment) {
      return path.join(dataDir, 'targets', environment);
    },
    async spawnAgents(hosts) {
      const agent = await spawnHostAgent(hosts, {
        TEMPORAL_ADDRESS: temporal.address,
        DEPLOY_DATABASE_URL: orchestratorDb.url,
        DEPLOY_AGENT_ROOT: path.join(dataDir, 'agents'),
        WORKER_SHUTDOWN_GRACE_MS: '2000',
      });
      agents.add(agent);
      return agent;
    },
    hostRoot(host) {
      return path.join(dataDir, 'agents', host, 'hello-service', 'fleet');
    },
    async cleanup() {
      for (const c of children) c.kill('SIGKILL');
      for (const a of agents) await a.kill9().catch(() => undefined);
      await world.stopWorker().catch(() => undefined);
      // A fleet: each host's release process (the agents are gone; their releases outlive them), then the front door.
      for (const host of (spec.environments.fleet?.target.hosts ?? []) as Array<{ name: string; port: number }>) {
        if (!(await fs.stat(world.hostRoot(host.name)).catch(() => null))) continue;
        await createLocalTarget({ root: world.hostRoot(host.name), command: ['node'], port: host.port, keepReleases: 5, stopTimeoutMs: 1000 }).rollback(null, {}).catch(() => undefined);
      }
      if (spec.environments.fleet?.target.frontDoor) {
        const dir = path.join(dataDir, 'targets', 'fleet', 'front-door');
        if (await fs.stat(dir).catch(() => null)) {
          await new FrontDoor({ name: 'hello-service-fleet', publicPort: spec.environments.fleet.target.frontDoor.port, directory: dir }).stop({ graceMs: 500 }).catch(() => undefined);
        }
      }
      for (const env of ['staging', 'production'] as const) {
        const target = createLocalTarget({ root: world.targetRoot(env), command: ['node'], port: ports[env], keepReleases: 5, stopTimeoutMs: 2000 });
        await target.rollback(null, {}).catch(() => undefined);
        // Behind a front door (blueGreen / canary): every release process, then haproxy.
        const frontDoorDir = path.join(world.targetRoot(env), 'front-door');
        if (await fs.stat(frontDoorDir).catch(() => null)) {
          const name = `hello-service-${env}`;
          const behind = createLocalTarget({ root: world.targetRoot(env), command: ['node'], port: ports[env], stopTimeoutMs: 2000, frontDoor: { name, healthPath: '/readyz' } });
          await behind.rollback(null, {}).catch(() => undefined);
          await new FrontDoor({ name, publicPort: ports[env], directory: frontDoorDir }).stop({ graceMs: 1000 }).catch(() => undefined);
        }
      }
      await connection.close().catch(() => undefined);
      if (ownsTemporal) await temporal.stop().catch(() => undefined);
      for (const db of Object.values(example.databases)) {
        await createTestDatabaseDropper(db);
      }
      await orchestratorDb.drop().catch(() => undefined);
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
  return world;
}

async function createTestDatabaseDropper(name: string): Promise<void> {
  const { Client: PgClient } = await import('pg');
  const c = new PgClient({ connectionString: ADMIN_DATABASE_URL });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
}
