import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { LineTail, forEachLine, formatDuration } from './log';

const execFileAsync = promisify(execFile);

/** The Temporal types the contract's search attributes use (as `temporal ... --search-attribute Name=Type` spells them). */
export type DeploySearchAttributeType = 'Keyword' | 'Int';

/**
 * The contract's search attributes and their types (see DESIGN.md): what a deploy carries where, for whom and
 * where it stands as Keyword; a fleet deploy's per-host progress (hosts in the rollout, updated, failed) as Int.
 */
export const DEPLOY_SEARCH_ATTRIBUTE_TYPES = {
  DeployService: 'Keyword',
  DeployEnvironment: 'Keyword',
  DeployVersion: 'Keyword',
  DeployStage: 'Keyword',
  DeployStatus: 'Keyword',
  DeployRequestedBy: 'Keyword',
  DeployHostsTotal: 'Int',
  DeployHostsUpdated: 'Int',
  DeployHostsFailed: 'Int',
} as const satisfies Record<string, DeploySearchAttributeType>;

export type DeploySearchAttributeName = keyof typeof DEPLOY_SEARCH_ATTRIBUTE_TYPES;

/** Every contract search attribute's name, Keyword ones first; the type of each is in DEPLOY_SEARCH_ATTRIBUTE_TYPES. */
export const DEPLOY_SEARCH_ATTRIBUTES = Object.keys(DEPLOY_SEARCH_ATTRIBUTE_TYPES) as readonly DeploySearchAttributeName[];

/** The names of the contract's search attributes of one type. */
export function deploySearchAttributesOfType(type: DeploySearchAttributeType): DeploySearchAttributeName[] {
  return DEPLOY_SEARCH_ATTRIBUTES.filter((name) => DEPLOY_SEARCH_ATTRIBUTE_TYPES[name] === type);
}

/** `--search-attribute Name=Type` for each contract search attribute, for `temporal server start-dev`. */
export function searchAttributeArgs(): string[] {
  return DEPLOY_SEARCH_ATTRIBUTES.flatMap((name) => ['--search-attribute', `${name}=${DEPLOY_SEARCH_ATTRIBUTE_TYPES[name]}`]);
}

// temporal.api.enums.v1.IndexedValueType; @temporalio/proto is not a direct dependency.
const INDEXED_VALUE_TYPES: Record<DeploySearchAttributeType, number> = { Keyword: 2, Int: 3 };
const INDEXED_VALUE_TYPE_NAMES = ['Unspecified', 'Text', 'Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList'];

/** A contract search attribute exists in the namespace with another type, so the workflow could not upsert it. */
export class SearchAttributeTypeError extends Error {
  override name = 'SearchAttributeTypeError';
}

export interface DevServerOptions {
  /** Path of the Temporal CLI (from findOrBuildTemporalCli). */
  cli: string;
  /** SQLite file that keeps workflows across restarts; without it everything is lost when the server stops. */
  dbFilename?: string;
  /** IP to bind; default 127.0.0.1. */
  ip?: string;
  /** gRPC port; 0 or undefined picks a free one. */
  port?: number;
  /** Web UI port; 0 or undefined picks a free one (ignored when headless). */
  uiPort?: number;
  headless?: boolean;
  /** A namespace to create at launch besides "default". */
  namespace?: string;
  /** Appends the server's output to this file. */
  logFile?: string;
  /** Receives each line the server prints (e.g. to forward it with a prefix). */
  onOutput?: (line: string) => void;
  /** Start the server in its own process group so a terminal's Ctrl-C reaches only the parent, which
   *  then stops things in order. The parent must call stop(). */
  ownProcessGroup?: boolean;
  /** How long to wait for the server to answer health checks; default 60 s. */
  readyTimeoutMs?: number;
  /** Dynamic config values (`--dynamic-config-value key=<JSON>`), e.g. { 'frontend.namespaceCount': 20000 }. */
  dynamicConfig?: Record<string, string | number | boolean>;
}

export interface DevServer {
  /** host:port of the gRPC frontend. */
  address: string;
  port: number;
  uiPort?: number;
  uiUrl?: string;
  process: ChildProcess;
  /** Stops the server gracefully (SIGTERM, then SIGKILL after 15 s); safe to call twice. */
  stop(): Promise<void>;
}

/** Asks the OS for a currently free TCP port on `host`. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `temporal server start-dev` with the contract's search attributes and waits until it is SERVING. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port || (await freePort(ip));
  const headless = options.headless ?? false;
  const uiPort = headless ? undefined : options.uiPort || (await freePort(ip));
  const namespace = options.namespace ?? 'default';
  const address = `${formatHost(ip)}:${port}`;

  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--log-level', 'warn'];
  if (headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);
  if (namespace !== 'default') args.push('--namespace', namespace);
  args.push(...searchAttributeArgs());
  for (const [key, value] of Object.entries(options.dynamicConfig ?? {})) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);

  const child = spawn(options.cli, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownProcessGroup ?? false,
  });
  const tail = new LineTail(40);
  const logStream = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  const onLine = (line: string) => {
    tail.push(line);
    logStream?.write(`${line}\n`);
    options.onOutput?.(line);
  };
  forEachLine(child.stdout!, onLine);
  forEachLine(child.stderr!, onLine);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
    // A spawn failure (ENOENT/EACCES) emits 'error' without 'exit'.
    child.on('error', (err) => {
      exited = { code: null, signal: null };
      tail.push(`could not run ${options.cli}: ${err.message}`);
      resolve();
    });
  });
  // If the parent exits without calling stop() (a crashed test), do not leave the server behind.
  const killOnExit = () => signalServer(child, options.ownProcessGroup ?? false, 'SIGKILL');
  process.on('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('exit', killOnExit);
      if (!exited) {
        signalServer(child, options.ownProcessGroup ?? false, 'SIGTERM');
        const forced = setTimeout(() => signalServer(child, options.ownProcessGroup ?? false, 'SIGKILL'), 15_000);
        await exitPromise;
        clearTimeout(forced);
      }
      await new Promise<void>((resolve) => (logStream ? logStream.end(resolve) : resolve()));
    })();
    return stopping;
  };

  try {
    await waitUntilServing({
      cli: options.cli,
      address,
      timeoutMs: options.readyTimeoutMs ?? 60_000,
      hasExited: () => exited,
      describe: () => `temporal ${args.join(' ')}`,
      tail: () => tail.text(),
    });
    // Launch flags register the attributes only when the namespace is created, so a database file made
    // by an older setup may lack some; registering through the API covers that and is a no-op otherwise.
    await registerSearchAttributes(address, namespace);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    address,
    port,
    uiPort,
    uiUrl: uiPort === undefined ? undefined : `http://${formatHost(ip === '0.0.0.0' ? '127.0.0.1' : ip)}:${uiPort}`,
    process: child,
    stop,
  };
}

export interface EnsureTemporalOptions {
  /** host:port to use, e.g. 127.0.0.1:7233. */
  address: string;
  cli: string;
  dbFilename?: string;
  uiPort?: number;
  namespace?: string;
  logFile?: string;
  onOutput?: (line: string) => void;
  ownProcessGroup?: boolean;
}

export interface EnsuredTemporal {
  address: string;
  uiUrl?: string;
  /** True when this call started the server (and stop() stops it); false when one was already running. */
  startedHere: boolean;
  process?: ChildProcess;
  stop(): Promise<void>;
}

/** Reuses a server already answering at `address` (registering the search attributes there), else starts one. */
export async function ensureTemporal(options: EnsureTemporalOptions): Promise<EnsuredTemporal> {
  const namespace = options.namespace ?? 'default';
  const { host, port } = parseAddress(options.address);
  if (await isServing(options.cli, options.address)) {
    await registerSearchAttributes(options.address, namespace);
    const uiUrl = options.uiPort ? `http://${formatHost(host)}:${options.uiPort}` : undefined;
    return {
      address: options.address,
      uiUrl: uiUrl && (await answersHttp(uiUrl)) ? uiUrl : undefined,
      startedHere: false,
      stop: async () => {},
    };
  }
  const server = await startDevServer({
    cli: options.cli,
    ip: host,
    port,
    uiPort: options.uiPort,
    dbFilename: options.dbFilename,
    namespace,
    logFile: options.logFile,
    onOutput: options.onOutput,
    ownProcessGroup: options.ownProcessGroup,
  });
  return { address: server.address, uiUrl: server.uiUrl, startedHere: true, process: server.process, stop: server.stop };
}

/**
 * Adds whichever of the contract's search attributes the namespace lacks, each with its own type. Idempotent;
 * fails (SearchAttributeTypeError) naming the attribute when one already exists with another type, since the
 * workflow could not upsert it.
 */
export async function registerSearchAttributes(address: string, namespace = 'default'): Promise<string[]> {
  const connection = await Connection.connect({ address, connectTimeout: '10s' });
  try {
    const existing = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
    for (const name of DEPLOY_SEARCH_ATTRIBUTES) {
      const type = existing[name];
      const wanted = DEPLOY_SEARCH_ATTRIBUTE_TYPES[name];
      if (type !== undefined && type !== null && Number(type) !== INDEXED_VALUE_TYPES[wanted]) {
        throw new SearchAttributeTypeError(
          `Search attribute ${name} exists in namespace ${namespace} at ${address} with type ` +
            `${INDEXED_VALUE_TYPE_NAMES[Number(type)] ?? type}, but the deploy workflow needs ${wanted}. Remove it ` +
            `(temporal operator search-attribute remove --name ${name}) and run again.`,
        );
      }
    }
    const missing = DEPLOY_SEARCH_ATTRIBUTES.filter((name) => existing[name] === undefined);
    for (const name of missing) {
      try {
        await connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: { [name]: INDEXED_VALUE_TYPES[DEPLOY_SEARCH_ATTRIBUTE_TYPES[name]] },
        });
      } catch (err) {
        // Another process may have registered it between the list and the add.
        if (!/already exists/i.test((err as Error).message)) throw err;
      }
    }
    return missing;
  } finally {
    await connection.close();
  }
}

/** One health probe: true when `temporal operator cluster health` answers SERVING. */
export async function isServing(cli: string, address: string): Promise<boolean> {
  try {
    const { stdout } = await execFileAsync(cli, ['operator', 'cluster', 'health', '--address', address], {
      timeout: 10_000,
    });
    return stdout.includes('SERVING');
  } catch {
    return false;
  }
}

interface WaitOptions {
  cli: string;
  address: string;
  timeoutMs: number;
  hasExited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
  describe: () => string;
  tail: () => string;
}

async function waitUntilServing(o: WaitOptions): Promise<void> {
  const started = Date.now();
  for (;;) {
    const exit = o.hasExited();
    if (exit) {
      throw new Error(
        `The Temporal dev server exited (${exit.signal ?? `code ${exit.code}`}) before answering at ${o.address}.\n` +
          `Command: ${o.describe()}\nIts last output:\n${o.tail() || '(none)'}`,
      );
    }
    if (await isServing(o.cli, o.address)) return;
    if (Date.now() - started > o.timeoutMs) {
      throw new Error(
        `The Temporal dev server did not answer health checks at ${o.address} within ` +
          `${formatDuration(o.timeoutMs)}.\nCommand: ${o.describe()}\nIts last output:\n${o.tail() || '(none)'}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function signalServer(child: ChildProcess, ownGroup: boolean, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    if (ownGroup) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // Already gone.
  }
}

async function answersHttp(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return response.status < 500;
  } catch {
    return false;
  }
}

/** Splits "host:port" (or "[v6]:port"); the error names the expected shape. */
export function parseAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port > 0 && port < 65536)) {
    throw new Error(`Temporal address "${address}" is not host:port (for example 127.0.0.1:7233).`);
  }
  return { host: match[1], port };
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
