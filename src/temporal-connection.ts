import { promises as fs } from 'node:fs';
import type { WorkerConfig } from './config';

/** TLS and API-key options shared by the worker's NativeConnection and the client's Connection. */
export async function connectionOptions(config: Pick<WorkerConfig, 'TEMPORAL_ADDRESS' | 'TEMPORAL_TLS_CERT' | 'TEMPORAL_TLS_KEY' | 'TEMPORAL_TLS_CA' | 'TEMPORAL_TLS_SERVER_NAME' | 'TEMPORAL_API_KEY'>) {
  const read = async (name: string, file: string) => {
    try {
      return await fs.readFile(file);
    } catch (err) {
      throw new Error(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  const useTls = Boolean(config.TEMPORAL_TLS_CERT || config.TEMPORAL_TLS_CA || config.TEMPORAL_API_KEY);
  const tls = useTls
    ? {
        serverNameOverride: config.TEMPORAL_TLS_SERVER_NAME,
        serverRootCACertificate: config.TEMPORAL_TLS_CA ? await read('TEMPORAL_TLS_CA', config.TEMPORAL_TLS_CA) : undefined,
        clientCertPair:
          config.TEMPORAL_TLS_CERT && config.TEMPORAL_TLS_KEY
            ? { crt: await read('TEMPORAL_TLS_CERT', config.TEMPORAL_TLS_CERT), key: await read('TEMPORAL_TLS_KEY', config.TEMPORAL_TLS_KEY) }
            : undefined,
      }
    : undefined;
  return { address: config.TEMPORAL_ADDRESS, tls, apiKey: config.TEMPORAL_API_KEY };
}
