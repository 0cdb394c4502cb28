import path from 'node:path';
import { z } from 'zod';
import { ConfigError, workerEnvSchema } from '../config';
import { HOST_NAME_PATTERN } from './contract';

/**
 * A host agent's configuration, from the environment only. The Temporal and artifact store variables are
 * the worker's (same names, same checks); DEPLOY_AGENT_ROOT is the agent's own. Everything is read and
 * checked once at start; a bad value stops the agent with one message listing every bad variable, never
 * its value (some are credentials).
 */
export const agentEnvSchema = workerEnvSchema
  .pick({
    TEMPORAL_ADDRESS: true,
    TEMPORAL_NAMESPACE: true,
    TEMPORAL_TLS_CERT: true,
    TEMPORAL_TLS_KEY: true,
    TEMPORAL_TLS_CA: true,
    TEMPORAL_TLS_SERVER_NAME: true,
    TEMPORAL_API_KEY: true,
    DEPLOY_DATABASE_URL: true,
    DEPLOY_ARTIFACT_STORE: true,
    DEPLOY_ARTIFACT_DIR: true,
    WORKER_SHUTDOWN_GRACE_MS: true,
    WORKER_MAX_CONCURRENT_ACTIVITIES: true,
    WORKER_IDENTITY: true,
  })
  .extend({
    /** Each host's directory is `<DEPLOY_AGENT_ROOT>/<host>`: its releases, processes' files and artifact cache. */
    DEPLOY_AGENT_ROOT: z.string().min(1).max(4096).refine((p) => !p.includes('\0'), 'must not contain NUL').default('.data/agents'),
    /**
     * Long polls each host's queue keeps open. A host runs one operation at a time, so two are plenty; every
     * poll counts against the frontend's per-namespace limit (frontend.namespaceCount, 1,200 by default),
     * which the SDK's default of ten per queue would exhaust at about a hundred hosts.
     */
    DEPLOY_AGENT_POLLERS_PER_HOST: z.coerce.number().int('must be an integer').min(1, 'must be at least 1').max(10, 'must be at most 10').default(2),
  });

export type AgentConfig = z.infer<typeof agentEnvSchema>;

export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const parsed = agentEnvSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  } else {
    const c = parsed.data;
    if (Boolean(c.TEMPORAL_TLS_CERT) !== Boolean(c.TEMPORAL_TLS_KEY)) {
      problems.push('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: set both (client certificate and its key) or neither');
    }
    if (c.DEPLOY_ARTIFACT_STORE === 'filesystem' && c.DEPLOY_ARTIFACT_DIR === undefined) {
      // The worker's default (its own cache) means nothing here: an agent shares no files with the orchestrator.
      problems.push('DEPLOY_ARTIFACT_DIR: required with DEPLOY_ARTIFACT_STORE=filesystem (the shared artifact directory the orchestrator writes to)');
    }
    if (c.DEPLOY_ARTIFACT_DIR !== undefined && c.DEPLOY_ARTIFACT_STORE !== 'filesystem') {
      problems.push('DEPLOY_ARTIFACT_DIR: only read when DEPLOY_ARTIFACT_STORE=filesystem; set that too, or unset DEPLOY_ARTIFACT_DIR to read artifacts from PostgreSQL');
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}

/** Why a host name given on the command line is refused, or null when it is fine. */
export function hostNameProblem(host: string): string | null {
  return HOST_NAME_PATTERN.test(host) ? null : `--host ${JSON.stringify(host.slice(0, 80))}: must be lowercase letters, digits and dashes, starting with a letter or digit (max 63)`;
}

/** Where one host's agent keeps everything: `<DEPLOY_AGENT_ROOT>/<host>`, absolute. */
export function hostAgentRoot(config: Pick<AgentConfig, 'DEPLOY_AGENT_ROOT'>, cwd: string, host: string): string {
  if (hostNameProblem(host)) throw new Error(hostNameProblem(host)!);
  return path.join(path.resolve(cwd, config.DEPLOY_AGENT_ROOT), host);
}

/** The host's verified copy of the artifact store: `<agent root>/artifacts`, in the store's directory layout. */
export function hostArtifactCache(agentRoot: string): string {
  return path.join(agentRoot, 'artifacts');
}

/** The local target of one service environment on the host: `<agent root>/<service>/<environment>`. */
export function hostTargetRoot(agentRoot: string, service: string, environment: string): string {
  return path.join(agentRoot, service, environment);
}
