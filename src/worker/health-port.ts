import type http from 'node:http';

/** How many ports after the default a worker tries before it gives up (one per worker on a machine). */
const DEFAULT_PORT_TRIES = 20;

export class HealthPortError extends Error {}

function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Binds the health server on 127.0.0.1. A port the operator set (WORKER_HEALTH_PORT) is used or refused;
 * the default port, when busy (another worker on this machine), gives way to the next free one, said in
 * one log line, so that a second `npm run worker` starts instead of dying.
 */
export async function listenHealthPort(server: http.Server, o: { port: number; explicit: boolean; log: (line: string) => void }): Promise<number> {
  const tries = o.explicit || o.port === 0 ? 1 : DEFAULT_PORT_TRIES;
  for (let i = 0; i < tries; i++) {
    const port = o.port + i;
    if (port > 65535) break;
    try {
      await listen(server, port);
      if (i > 0) o.log(`worker health: default port ${o.port} is in use (another worker?); serving health and metrics on ${port} instead — set WORKER_HEALTH_PORT to choose the port`);
      return port === 0 ? (server.address() as { port: number }).port : port;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (o.explicit) {
        throw new HealthPortError(
          `WORKER_HEALTH_PORT: port ${port} on 127.0.0.1 is in use (another worker?); set WORKER_HEALTH_PORT to a free port, or unset it to take the first free port from the default`,
        );
      }
    }
  }
  throw new HealthPortError(`WORKER_HEALTH_PORT: ports ${o.port}–${o.port + tries - 1} on 127.0.0.1 are all in use; set WORKER_HEALTH_PORT to a free port`);
}
