import { promises as fs } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { startDeploy } from '../../src/client/deploys';
import type { DeployResult } from '../../src/workflows/types';

export const BENCH_ENVIRONMENT = 'bench';

/**
 * A spec whose stages are all (nearly) instant: no build section (the build stage returns the version as an
 * externally built artifact), no migrations, a command target running `true`, and a validate stage that
 * needs a single successful probe of an endpoint that is always ready. What is left is the orchestrator.
 *
 * Written to `<dataDir>/specs/<service>.json` and deployed by that path, as production deploys (a worker
 * refuses inline specs unless DEPLOY_ALLOW_INLINE_SPECS=true); the bench workers' spec root is `dataDir`.
 */
export async function instantSpec(o: { service: string; dataDir: string; healthUrl: string; deploy?: string[]; heartbeatMs?: number }): Promise<string> {
  const envFile = path.join(o.dataDir, 'bench.env');
  await fs.writeFile(envFile, '# the instant deploys need no runtime configuration\n', { flag: 'a' });
  const spec = {
    service: o.service,
    source: { repository: o.dataDir },
    runtime: { command: ['true'] },
    preChecks: { minFreeDiskMb: 0 },
    health: { url: o.healthUrl, intervalMs: 10, windowMs: 5_000, requestTimeoutMs: 2_000, consecutiveSuccesses: 1, maxConsecutiveFailures: 1 },
    ...(o.heartbeatMs ? { timeouts: { heartbeatMs: o.heartbeatMs } } : {}),
    environments: {
      [BENCH_ENVIRONMENT]: {
        config: { envFile },
        target: { type: 'command', deploy: o.deploy ?? ['true'], current: ['true'], rollback: ['true'], timeoutMs: 120_000 },
      },
    },
  };
  const file = path.join(o.dataDir, 'specs', `${o.service}.json`);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(spec, null, 2));
  return file;
}

/** Starts a deploy of the spec file `specPath` (absolute, under the bench's data directory). */
export function startInstantDeploy(client: Client, taskQueue: string, specPath: string, version: string): Promise<WorkflowHandle> {
  return startDeploy(client, { spec: specPath, environment: BENCH_ENVIRONMENT, version, requestedBy: 'bench' }, { taskQueue });
}

export interface DeployOutcome {
  outcome: string;
  result?: DeployResult;
  error?: string;
}

/** Waits for a deploy and returns its DeployResult, from the return value or from the failure's details. */
export async function deployOutcome(handle: WorkflowHandle): Promise<DeployOutcome> {
  try {
    const result = (await handle.result()) as DeployResult;
    return { outcome: result.outcome, result };
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const result = (err.cause as { details?: unknown[] } | undefined)?.details?.[0] as DeployResult | undefined;
      if (result?.outcome) return { outcome: result.outcome, result };
      return { outcome: 'failed', error: (err.cause as Error | undefined)?.message ?? err.message };
    }
    return { outcome: 'error', error: (err as Error).message };
  }
}

/** One line on why a deploy did not succeed, for error messages. */
export function describeOutcome(o: DeployOutcome): string {
  return `${o.outcome}: ${o.result?.reason ?? o.error ?? 'no reason given'}`;
}
