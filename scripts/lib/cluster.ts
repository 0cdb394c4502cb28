/**
 * A Temporal cluster on PostgreSQL from the pinned server build: history, matching, frontend and worker
 * services as four processes of one `temporal-server` binary, configured by deploy/temporal/server.yaml
 * (the file docker-compose.yml mounts), plus the Web UI server (deploy/temporal/ui.yaml).
 *
 * Each process writes to its own log file and runs in its own process group, so a terminal's Ctrl-C
 * reaches only the parent, which stops them in reverse order. Services can be stopped, killed and
 * started again one by one (the durability tests do).
 */
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import type { ClusterBinaries } from './cluster-binaries';
import { DEPLOY_SEARCH_ATTRIBUTES, DEPLOY_SEARCH_ATTRIBUTE_TYPES, SearchAttributeTypeError, isServing, registerSearchAttributes } from './dev-server';
import { formatDuration } from './log';
import { exitDescription, httpStatus, isPortFree, signalGroup, spawnLogged, tail, waitUntil } from './stack';
import type { PostgresEndpoint, TemporalDatabaseNames } from './temporal-databases';

export const REPO_ROOT = path.resolve(__dirname, '../..');
/** server.yaml, ui.yaml and dynamicconfig.yaml: the same files docker-compose.yml mounts at /etc/temporal/deploy. */
export const CLUSTER_CONFIG_DIR = path.join(REPO_ROOT, 'deploy', 'temporal');

/** Start order; they stop in reverse. The frontend needs history and matching to answer anything useful. */
export const CLUSTER_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];
export type ClusterProcessName = ClusterService | 'ui';

export const DEFAULT_NAMESPACE = 'default';
/** How long closed deploys stay visible, as in docker-compose.yml's TEMPORAL_NAMESPACE_RETENTION (720h). */
export const NAMESPACE_RETENTION_HOURS = 720;

export interface ClusterPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
  ui: number;
}

/** The ports of server.yaml's and ui.yaml's defaults (ui-server's own default: 8080). */
export const STANDARD_CLUSTER_PORTS: ClusterPorts = {
  frontend: 7233,
  frontendHttp: 7243,
  frontendMembership: 6933,
  history: 7234,
  historyMembership: 6934,
  matching: 7235,
  matchingMembership: 6935,
  worker: 7239,
  workerMembership: 6939,
  ui: 8080,
};

// PostgreSQL's cluster_membership.rpc_port is a SMALLINT: a service whose membership port is above 32767
// cannot register itself and exits ("value … is out of range for type smallint"). The kernel's ephemeral
// ports (what listen(0) hands out) start at 32768, so free ports are searched below that instead.
const LOWEST_FREE_PORT = 20_000;
const HIGHEST_MEMBERSHIP_PORT = 32_767;

/** A distinct free port below 32768 for each role (tests, so they never collide with a server on the standard ports). */
export async function freeClusterPorts(): Promise<ClusterPorts> {
  const taken = new Set<number>();
  const next = async () => {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const port = LOWEST_FREE_PORT + Math.floor(Math.random() * (HIGHEST_MEMBERSHIP_PORT - LOWEST_FREE_PORT + 1));
      if (taken.has(port) || !(await isPortFree(port))) continue;
      taken.add(port);
      return port;
    }
    throw new Error(`No free TCP port found on 127.0.0.1 between ${LOWEST_FREE_PORT} and ${HIGHEST_MEMBERSHIP_PORT}.`);
  };
  const ports = {} as ClusterPorts;
  for (const key of Object.keys(STANDARD_CLUSTER_PORTS) as Array<keyof ClusterPorts>) ports[key] = await next();
  return ports;
}

export interface TemporalClusterOptions {
  binaries: ClusterBinaries;
  /** The Temporal CLI, for health checks (`temporal operator cluster health`). */
  cli: string;
  endpoint: PostgresEndpoint;
  databases: TemporalDatabaseNames;
  ports: ClusterPorts;
  /** <service>.log files are appended here. */
  logDir: string;
  /** Start the Web UI server too (default true). */
  ui?: boolean;
  /** Prometheus endpoints, one per service process (127.0.0.1:<port>); default none. */
  metricsPorts?: Partial<Record<ClusterService, number>>;
  /** The server's log level (default info; the logs go to files). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Connection pool size per service process for persistence (visibility gets half). Default 10. */
  sqlMaxConns?: number;
  /** One line per lifecycle event (started, ready, stopped). */
  onEvent?: (line: string) => void;
  /** A process exited without being asked to: the caller decides what follows. */
  onUnexpectedExit?: (name: ClusterProcessName, how: string) => void;
}

export interface TemporalCluster {
  /** 127.0.0.1:<frontend port>: what clients and workers connect to. */
  address: string;
  uiUrl?: string;
  ports: ClusterPorts;
  databases: TemporalDatabaseNames;
  namespace: string;
  logs: Record<ClusterProcessName, string>;
  pid(name: ClusterProcessName): number | undefined;
  /** Starts one service process and waits until it listens (and, for the frontend, answers SERVING). */
  startService(name: ClusterService): Promise<void>;
  /** SIGTERM (graceful, escalates to SIGKILL after 30 s) or SIGKILL; waits until the process is gone. */
  stopService(name: ClusterService, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Stop (or kill) and start one service, then wait until the cluster serves requests again. */
  restartService(name: ClusterService, o?: { kill?: boolean }): Promise<void>;
  /** Waits until frontend, history and matching all answer through the frontend. */
  waitUntilServing(timeoutMs?: number): Promise<void>;
  /** Stops every process in reverse start order. Safe to call twice. */
  stop(): Promise<void>;
  /** Lets the parent exit while the processes run on. */
  detach(): void;
}

const SERVICE_READY_TIMEOUT_MS = 120_000;
const SERVICE_STOP_TIMEOUT_MS = 30_000;
const CLUSTER_READY_TIMEOUT_MS = 180_000;

/** The environment deploy/temporal/server.yaml reads (see the table at its top). */
export function serverEnvironment(o: Pick<TemporalClusterOptions, 'endpoint' | 'databases' | 'ports' | 'logLevel' | 'sqlMaxConns'>): Record<string, string> {
  const sqlMaxConns = o.sqlMaxConns ?? 10;
  return {
    POSTGRES_SEEDS: o.endpoint.host,
    DB_PORT: String(o.endpoint.port),
    POSTGRES_USER: o.endpoint.user,
    POSTGRES_PWD: o.endpoint.password,
    DBNAME: o.databases.temporal,
    VISIBILITY_DBNAME: o.databases.visibility,
    SQL_MAX_CONNS: String(sqlMaxConns),
    SQL_VIS_MAX_CONNS: String(Math.max(2, Math.floor(sqlMaxConns / 2))),
    BIND_ON_IP: '127.0.0.1',
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    FRONTEND_GRPC_PORT: String(o.ports.frontend),
    FRONTEND_HTTP_PORT: String(o.ports.frontendHttp),
    FRONTEND_MEMBERSHIP_PORT: String(o.ports.frontendMembership),
    HISTORY_GRPC_PORT: String(o.ports.history),
    HISTORY_MEMBERSHIP_PORT: String(o.ports.historyMembership),
    MATCHING_GRPC_PORT: String(o.ports.matching),
    MATCHING_MEMBERSHIP_PORT: String(o.ports.matchingMembership),
    WORKER_GRPC_PORT: String(o.ports.worker),
    WORKER_MEMBERSHIP_PORT: String(o.ports.workerMembership),
    DYNAMIC_CONFIG_FILE_PATH: path.join(CLUSTER_CONFIG_DIR, 'dynamicconfig.yaml'),
    LOG_LEVEL: o.logLevel ?? 'info',
    PROMETHEUS_ENDPOINT: '',
  };
}

/** `temporal-server … start --service <name>` with the project's config directory. */
export function serverArgs(service: ClusterService): string[] {
  // --root / makes --config an absolute path (the server joins the two); --env names server.yaml.
  return ['--root', '/', '--config', CLUSTER_CONFIG_DIR, '--env', 'server', '--allow-no-auth', 'start', '--service', service];
}

export function uiServerArgs(): string[] {
  return ['--root', '/', '--config', CLUSTER_CONFIG_DIR, '--env', 'ui', 'start'];
}

export async function startTemporalCluster(o: TemporalClusterOptions): Promise<TemporalCluster> {
  const event = o.onEvent ?? (() => {});
  const address = `127.0.0.1:${o.ports.frontend}`;
  const withUi = o.ui ?? true;
  const uiUrl = withUi ? `http://127.0.0.1:${o.ports.ui}` : undefined;
  await fs.mkdir(o.logDir, { recursive: true });
  const logs = Object.fromEntries(
    [...CLUSTER_SERVICES, 'ui'].map((name) => [name, path.join(o.logDir, `temporal-${name}.log`)]),
  ) as Record<ClusterProcessName, string>;

  const children = new Map<ClusterProcessName, ChildProcess>();
  const stopping = new Set<ClusterProcessName>();
  const killOnExit = () => {
    for (const child of children.values()) if (child.pid) signalGroup(child.pid, 'SIGKILL');
  };
  process.on('exit', killOnExit);

  const baseEnv = serverEnvironment(o);
  const spawnProcess = (name: ClusterProcessName): ChildProcess => {
    const isUi = name === 'ui';
    const env: NodeJS.ProcessEnv = isUi
      ? { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_UI_HOST: '127.0.0.1', TEMPORAL_UI_PORT: String(o.ports.ui) }
      : {
          ...process.env,
          ...baseEnv,
          PROMETHEUS_ENDPOINT: o.metricsPorts?.[name] ? `127.0.0.1:${o.metricsPorts[name]}` : '',
        };
    const child = isUi
      ? spawnLogged(o.binaries.uiServer, uiServerArgs(), { cwd: REPO_ROOT, logFile: logs.ui, env })
      : spawnLogged(o.binaries.server, serverArgs(name), { cwd: REPO_ROOT, logFile: logs[name], env });
    children.set(name, child);
    child.once('exit', (code, signal) => {
      if (children.get(name) === child) children.delete(name);
      const how = signal ? `killed by ${signal}` : `exit code ${code}`;
      if (stopping.has(name)) return;
      event(`${name} (pid ${child.pid}) exited unexpectedly: ${how}; its log: ${logs[name]}`);
      o.onUnexpectedExit?.(name, how);
    });
    event(`${name}: started (pid ${child.pid}, log ${path.relative(process.cwd(), logs[name]) || logs[name]})`);
    return child;
  };

  // The port that answers once a service runs: history and matching serve gRPC; the worker service serves
  // none (its gRPC port only names it), so its membership (ringpop) port tells instead.
  const readinessPort: Record<ClusterService, number> = {
    history: o.ports.history,
    matching: o.ports.matching,
    frontend: o.ports.frontend,
    worker: o.ports.workerMembership,
  };

  const startService = async (name: ClusterService): Promise<void> => {
    if (children.has(name)) throw new Error(`The ${name} service is already running (pid ${children.get(name)!.pid}).`);
    const started = Date.now();
    const child = spawnProcess(name);
    await waitUntil(
      () => (name === 'frontend' ? isServing(o.cli, address) : listens(readinessPort[name])),
      SERVICE_READY_TIMEOUT_MS,
      () => exitDescription(child),
      async () => `the ${name} service did not ${name === 'frontend' ? `answer SERVING at ${address}` : `listen on 127.0.0.1:${readinessPort[name]}`}; its log ${logs[name]} ends with:\n${await tail(logs[name])}`,
    );
    event(`${name}: ready on 127.0.0.1:${readinessPort[name]} (${formatDuration(Date.now() - started)})`);
  };

  const stopProcessNamed = async (name: ClusterProcessName, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> => {
    const child = children.get(name);
    if (!child || child.pid === undefined) return;
    stopping.add(name);
    try {
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      });
      signalGroup(child.pid, signal);
      const forced = setTimeout(() => {
        event(`${name} did not stop within ${formatDuration(SERVICE_STOP_TIMEOUT_MS)}: killing it`);
        signalGroup(child.pid!, 'SIGKILL');
      }, SERVICE_STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(forced);
      event(`${name}: ${signal === 'SIGKILL' ? 'killed (SIGKILL)' : 'stopped'}`);
    } finally {
      stopping.delete(name);
    }
  };

  const waitUntilServing = async (timeoutMs = CLUSTER_READY_TIMEOUT_MS): Promise<void> => {
    const started = Date.now();
    let last = '';
    for (;;) {
      const problem = await clusterProblem(address, DEFAULT_NAMESPACE).catch((err: Error) => err.message);
      if (!problem) return;
      last = problem;
      if (Date.now() - started > timeoutMs) {
        throw new Error(`The cluster at ${address} did not serve requests within ${formatDuration(timeoutMs)}: ${last}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      for (const name of ['ui', ...[...CLUSTER_SERVICES].reverse()] as ClusterProcessName[]) {
        await stopProcessNamed(name, 'SIGTERM');
      }
      process.off('exit', killOnExit);
    })();
    return stopped;
  };

  try {
    for (const name of CLUSTER_SERVICES) await startService(name);
    await ensureNamespace(address, DEFAULT_NAMESPACE, event);
    await waitUntilServing();
    if (withUi) {
      const ui = spawnProcess('ui');
      const started = Date.now();
      await waitUntil(
        async () => {
          const status = await httpStatus(uiUrl!);
          return status !== undefined && status < 500;
        },
        60_000,
        () => exitDescription(ui),
        async () => `the Web UI server did not answer at ${uiUrl}; its log ${logs.ui} ends with:\n${await tail(logs.ui)}`,
      );
      event(`ui: ready at ${uiUrl} (${formatDuration(Date.now() - started)})`);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    address,
    uiUrl,
    ports: o.ports,
    databases: o.databases,
    namespace: DEFAULT_NAMESPACE,
    logs,
    pid: (name) => children.get(name)?.pid,
    startService,
    stopService: (name, signal = 'SIGTERM') => stopProcessNamed(name, signal),
    async restartService(name, options = {}) {
      await stopProcessNamed(name, options.kill ? 'SIGKILL' : 'SIGTERM');
      await startService(name);
      await waitUntilServing();
    },
    waitUntilServing,
    stop,
    detach() {
      process.off('exit', killOnExit);
      for (const child of children.values()) child.unref();
    },
  };
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
function listens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

// gRPC status codes the probes expect.
const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;

/**
 * Undefined when the cluster serves requests end to end, else what does not work yet: the frontend answers,
 * every history shard answers a describe of an unknown workflow (NotFound, not Unavailable), matching
 * describes the deploy task queue, and visibility accepts a query on the deploy search attributes.
 */
async function clusterProblem(address: string, namespace: string): Promise<string | undefined> {
  const connection = await Connection.connect({ address, connectTimeout: '5s' });
  try {
    const service = connection.workflowService;
    // Workflow IDs spread over the 4 shards by hash: 16 IDs reach every shard with near certainty.
    for (let i = 0; i < 16; i++) {
      try {
        await service.describeWorkflowExecution({ namespace, execution: { workflowId: `cluster-readiness-probe-${i}` } });
      } catch (err) {
        if ((err as { code?: number }).code !== GRPC_NOT_FOUND) return `history: ${(err as Error).message}`;
      }
    }
    try {
      await service.describeTaskQueue({ namespace, taskQueue: { name: 'deploys' } });
    } catch (err) {
      return `matching: ${(err as Error).message}`;
    }
    try {
      // Each attribute compared with a value of its own type: visibility rejects "probe" for an Int.
      const query = DEPLOY_SEARCH_ATTRIBUTES.map((name) => `${name}=${DEPLOY_SEARCH_ATTRIBUTE_TYPES[name] === 'Int' ? '0' : '"probe"'}`);
      await service.countWorkflowExecutions({ namespace, query: query.join(' AND ') });
    } catch (err) {
      return `visibility (search attributes): ${(err as Error).message}`;
    }
    return undefined;
  } finally {
    await connection.close();
  }
}

/**
 * Registers the namespace when missing (retention 720h, as docker-compose.yml's bootstrap does) and the
 * deploy search attributes, each with its type. A new namespace takes a moment to reach every service, so
 * adding the attributes is retried; an attribute that exists with another type fails at once.
 */
export async function ensureNamespace(address: string, namespace: string, event: (line: string) => void = () => {}): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: '10s' });
  try {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      event(`namespace ${namespace}: exists`);
    } catch (err) {
      if ((err as { code?: number }).code !== GRPC_NOT_FOUND) throw err;
      try {
        await connection.workflowService.registerNamespace({
          namespace,
          workflowExecutionRetentionPeriod: msToTs(`${NAMESPACE_RETENTION_HOURS}h`),
        });
        event(`namespace ${namespace}: registered (retention ${NAMESPACE_RETENTION_HOURS}h)`);
      } catch (registerErr) {
        if ((registerErr as { code?: number }).code !== GRPC_ALREADY_EXISTS) throw registerErr;
      }
    }
  } finally {
    await connection.close();
  }
  const started = Date.now();
  for (;;) {
    try {
      const added = await registerSearchAttributes(address, namespace);
      event(added.length ? `search attributes registered: ${added.join(', ')}` : `search attributes: all ${DEPLOY_SEARCH_ATTRIBUTES.length} present`);
      return;
    } catch (err) {
      if (err instanceof SearchAttributeTypeError || Date.now() - started > 120_000) throw err;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}
