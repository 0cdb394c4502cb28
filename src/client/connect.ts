import { Client, Connection } from '@temporalio/client';
import { loadWorkerConfig, type WorkerConfig } from '../config';
import { connectionOptions } from '../temporal-connection';

export interface DeployClient {
  client: Client;
  config: WorkerConfig;
  close(): Promise<void>;
}

/** A Temporal client configured from the same environment variables as the worker. */
export async function connectDeployClient(env: NodeJS.ProcessEnv = process.env): Promise<DeployClient> {
  const config = loadWorkerConfig(env);
  const connection = await Connection.connect({ ...(await connectionOptions(config)), connectTimeout: 5_000 });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  return { client, config, close: () => connection.close() };
}
