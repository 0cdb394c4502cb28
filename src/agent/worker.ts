import os from 'node:os';
import { NativeConnection, Worker } from '@temporalio/worker';
import { openArtifactStore, type ArtifactStore } from '../artifacts';
import { connectionOptions } from '../temporal-connection';
import { createHostActivities } from './activities';
import { hostAgentRoot, type AgentConfig } from './config';
import { hostTaskQueue } from './contract';
import { claimHost } from './host-lock';

export interface HostAgent {
  hosts: Array<{ host: string; taskQueue: string; root: string }>;
  /** Where artifacts come from, for the startup line. */
  artifactsFrom: string;
  /** Runs every host's worker until shutdown(); then closes the store and the connection. */
  run(): Promise<void>;
  /** Stops polling; in-flight activities get WORKER_SHUTDOWN_GRACE_MS to finish. */
  shutdown(): void;
}

/**
 * One activity-only Temporal worker per host, each on its own task queue with its own root, sharing one
 * connection and one artifact store client. In production an agent serves one host; several hosts in one
 * process are for benches that simulate a fleet on one machine.
 */
export async function createHostAgent(o: { config: AgentConfig; hosts: string[]; cwd?: string; log: (host: string, line: string) => void }): Promise<HostAgent> {
  const { config } = o;
  const cwd = o.cwd ?? process.cwd();
  // DEPLOY_DATA_DIR is read only for a filesystem store without DEPLOY_ARTIFACT_DIR, which loadAgentConfig refuses.
  const artifacts: ArtifactStore = await openArtifactStore({ ...config, DEPLOY_DATA_DIR: config.DEPLOY_AGENT_ROOT }, cwd);
  let connection: NativeConnection | undefined;
  const claims: Array<{ release(): Promise<void> }> = [];
  const releaseClaims = () => Promise.all(claims.map((c) => c.release().catch(() => undefined)));
  try {
    const hosts = o.hosts.map((host) => ({ host, taskQueue: hostTaskQueue(host), root: hostAgentRoot(config, cwd, host) }));
    for (const h of hosts) claims.push(await claimHost(h.root, h.host));
    connection = await NativeConnection.connect(await connectionOptions(config));
    const workers: Worker[] = [];
    for (const h of hosts) {
      workers.push(
        await Worker.create({
          connection,
          namespace: config.TEMPORAL_NAMESPACE,
          taskQueue: h.taskQueue,
          activities: createHostActivities({ host: h.host, agentRoot: h.root, artifacts, log: (line) => o.log(h.host, line) }),
          shutdownGraceTime: config.WORKER_SHUTDOWN_GRACE_MS,
          maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
          maxConcurrentActivityTaskPolls: config.DEPLOY_AGENT_POLLERS_PER_HOST,
          identity: config.WORKER_IDENTITY ? `${config.WORKER_IDENTITY}/${h.host}` : `agent-${h.host}@${os.hostname()}/${process.pid}`,
        }),
      );
    }
    const conn = connection;
    return {
      hosts,
      artifactsFrom: artifacts.location,
      async run() {
        try {
          // One worker failing (its task queue refused, the server gone for good) stops the others too.
          await Promise.all(
            workers.map((w) =>
              w.run().catch((err: unknown) => {
                for (const other of workers) if (other !== w && other.getState() === 'RUNNING') other.shutdown();
                throw err;
              }),
            ),
          );
        } finally {
          await artifacts.close().catch(() => undefined);
          await conn.close().catch(() => undefined);
          await releaseClaims();
        }
      },
      shutdown() {
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      },
    };
  } catch (err) {
    await artifacts.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await releaseClaims();
    throw err;
  }
}
