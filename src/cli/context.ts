import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { ConfigError, loadWorkerConfig, type WorkerConfig } from '../config';
import { Registry } from '../registry/registry';
import { connectionOptions } from '../temporal-connection';
import { CliError, usageError } from './errors';
import { ExitCode } from './exit-codes';

/** Options every command accepts; each defaults from the same environment variables the worker reads. */
export interface GlobalOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  json?: boolean;
}

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Progress output may rewrite one line in place only on a terminal. */
  isTTY: boolean;
  /** Rewrites the current terminal line (TTY only). */
  rewrite(text: string): void;
  /** Writes text to stdout exactly as given (no newline added): bytes someone signs. Default: out() without the final newline. */
  write?(text: string): void;
}

export function processIo(): CliIo {
  return {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    isTTY: Boolean(process.stdout.isTTY),
    rewrite: (t) => process.stdout.write(`\r\x1b[2K${t}`),
    write: (t) => process.stdout.write(t),
  };
}

/** What a command runs with: parsed globals, configuration, and lazily opened connections. */
export class CliContext {
  private client?: Client;
  private connection?: Connection;
  private registryInstance?: Registry;
  private configCache?: WorkerConfig;

  constructor(readonly io: CliIo, readonly env: NodeJS.ProcessEnv, readonly globals: GlobalOptions) {}

  get json(): boolean {
    return Boolean(this.globals.json);
  }

  /** The worker's configuration schema, with the global options taking precedence over the environment. */
  get config(): WorkerConfig {
    if (this.configCache) return this.configCache;
    const env: NodeJS.ProcessEnv = { ...this.env };
    if (this.globals.address !== undefined) env.TEMPORAL_ADDRESS = this.globals.address;
    if (this.globals.namespace !== undefined) env.TEMPORAL_NAMESPACE = this.globals.namespace;
    if (this.globals.taskQueue !== undefined) env.DEPLOY_TASK_QUEUE = this.globals.taskQueue;
    try {
      this.configCache = loadWorkerConfig(env);
    } catch (err) {
      if (err instanceof ConfigError) {
        const named = err.problems.map((p) =>
          p
            .replace(/^TEMPORAL_ADDRESS/, '--address / TEMPORAL_ADDRESS')
            .replace(/^TEMPORAL_NAMESPACE/, '--namespace / TEMPORAL_NAMESPACE')
            .replace(/^DEPLOY_TASK_QUEUE/, '--task-queue / DEPLOY_TASK_QUEUE'),
        );
        throw usageError(`invalid configuration: ${named.join('; ')}`);
      }
      throw err;
    }
    return this.configCache;
  }

  get uiBase(): string {
    return (this.env.TEMPORAL_UI_URL || 'http://127.0.0.1:8233').replace(/\/+$/, '');
  }

  /** The Web UI page of one run's event history. */
  uiLink(workflowId: string, runId: string): string {
    return `${this.uiBase}/namespaces/${encodeURIComponent(this.config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
  }

  async temporal(): Promise<Client> {
    if (this.client) return this.client;
    const config = this.config;
    try {
      this.connection = await Connection.connect({ ...(await connectionOptions(config)), connectTimeout: 5_000 });
    } catch (err) {
      throw new CliError(
        `cannot reach Temporal at ${config.TEMPORAL_ADDRESS}: ${firstLine(err)}. Start it (npm run dev), or point --address / TEMPORAL_ADDRESS at your server`,
        ExitCode.unreachable,
      );
    }
    this.client = new Client({ connection: this.connection, namespace: config.TEMPORAL_NAMESPACE });
    return this.client;
  }

  /** Runs `fn` with a deadline on its Temporal calls: a query nobody answers must not hang the CLI. */
  async withDeadline<T>(ms: number, fn: () => Promise<T>): Promise<T> {
    await this.temporal();
    return this.connection!.withDeadline(Date.now() + ms, fn);
  }

  /** The release registry (read side). A missing database or table reads as "no releases recorded yet". */
  async registry(): Promise<Registry> {
    if (this.registryInstance) return this.registryInstance;
    const pool = new Pool({ connectionString: this.config.DEPLOY_DATABASE_URL, max: 2, connectionTimeoutMillis: 5_000 });
    try {
      const c = await pool.connect();
      c.release();
    } catch (err) {
      await pool.end().catch(() => undefined);
      const code = (err as { code?: string }).code;
      if (code === '3D000') throw new CliError(`the orchestrator database in DEPLOY_DATABASE_URL does not exist yet: no release was ever recorded there. Run a worker once (npm run worker) or check DEPLOY_DATABASE_URL`, ExitCode.notFound);
      throw new CliError(`cannot reach the orchestrator database (DEPLOY_DATABASE_URL): ${firstLine(err)}. Check the URL and that PostgreSQL runs`, ExitCode.unreachable);
    }
    this.registryInstance = new Registry(pool);
    return this.registryInstance;
  }

  async close(): Promise<void> {
    await this.registryInstance?.close().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
  }
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/** Registry reads tolerate a database that exists without the table (no worker has run against it yet). */
export function isMissingTable(err: unknown): boolean {
  return (err as { code?: string }).code === '42P01';
}
