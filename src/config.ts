import { z } from 'zod';

/**
 * The worker's own configuration, from the environment only. Everything is read and checked once at
 * start; a bad value stops the worker with one message that lists every bad variable.
 */
const filePath = z.string().min(1).max(4096);
const port = z.coerce.number().int().min(0).max(65535);

export const workerEnvSchema = z.object({
  TEMPORAL_ADDRESS: z.string().regex(/^[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233').default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().regex(/^[A-Za-z0-9._-]{1,255}$/, 'must be a namespace name').default('default'),
  DEPLOY_TASK_QUEUE: z.string().regex(/^[A-Za-z0-9._-]{1,255}$/, 'must be a task queue name').default('deploys'),
  DEPLOY_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .default('postgres://postgres@127.0.0.1:5432/deployer'),
  DEPLOY_DATA_DIR: filePath.default('.data'),
  /**
   * Where the artifacts every worker replica shares are kept: `postgres` (the database of DEPLOY_DATABASE_URL)
   * or `filesystem` (DEPLOY_ARTIFACT_DIR, a shared mount). Each worker's <DEPLOY_DATA_DIR>/artifacts is its cache.
   */
  DEPLOY_ARTIFACT_STORE: z.enum(['postgres', 'filesystem'], 'must be postgres or filesystem').default('postgres'),
  /** The shared artifact directory of DEPLOY_ARTIFACT_STORE=filesystem. Default: the worker's own cache (one machine only). */
  DEPLOY_ARTIFACT_DIR: filePath.optional(),
  /** Where deploy specs may come from: a spec path must resolve (symlinks followed) inside it. Default: the working directory. */
  DEPLOY_SPEC_ROOT: filePath.optional(),
  /**
   * Where a spec's host paths (config source, source repository, target root) may point: a colon-separated
   * list of directories. Default: the spec root and the data directory.
   */
  DEPLOY_HOST_ROOTS: z.string().min(1).max(16_384).optional(),
  /** Inline spec objects in the workflow input (tests, experiments); never for an environment with a gate. */
  DEPLOY_ALLOW_INLINE_SPECS: z.enum(['true', 'false'], 'must be true or false').default('false'),
  TEMPORAL_TLS_CERT: filePath.optional(),
  TEMPORAL_TLS_KEY: filePath.optional(),
  TEMPORAL_TLS_CA: filePath.optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().max(255).optional(),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  WORKER_HEALTH_PORT: port.default(8091),
  WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(10_000).default(100),
  // Workflows kept in the worker's sticky cache. Unset: the SDK's default, derived from the V8 heap limit
  // (≈ 2 300 with Node's default heap on a 24 GB machine). Keep it above the number of deploys in flight on
  // one worker: an evicted deploy is replayed from its full history at its next workflow task, which the
  // bench measured as slower *and* larger (cache 50 under 100 concurrent deploys: 0.66× the throughput,
  // 1.5× the peak RSS). 0 disables the cache (every workflow task replays).
  // An empty value counts as unset: coerced, it would be 0 and silently turn the cache off.
  WORKER_MAX_CACHED_WORKFLOWS: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce
      .number()
      .int('must be a whole number of workflows')
      .min(0, 'must be 0 (no cache) or more; leave it unset for the SDK default')
      .max(100_000, 'must be at most 100000')
      .optional(),
  ),
  WORKER_IDENTITY: z.string().max(200).optional(),
});

export type WorkerConfig = z.infer<typeof workerEnvSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid worker configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = workerEnvSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Never echo the value: some of these variables are credentials.
      problems.push(`${issue.path.join('.')}: ${issue.message}`);
    }
  } else {
    const c = parsed.data;
    if (Boolean(c.TEMPORAL_TLS_CERT) !== Boolean(c.TEMPORAL_TLS_KEY)) {
      problems.push('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: set both (client certificate and its key) or neither');
    }
    if (c.DEPLOY_ARTIFACT_DIR !== undefined && c.DEPLOY_ARTIFACT_STORE !== 'filesystem') {
      problems.push('DEPLOY_ARTIFACT_DIR: only read when DEPLOY_ARTIFACT_STORE=filesystem; set that too, or unset DEPLOY_ARTIFACT_DIR to keep artifacts in PostgreSQL');
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}
