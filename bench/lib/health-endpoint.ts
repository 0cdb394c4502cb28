import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthEndpoint {
  url: string;
  requests(): number;
  close(): Promise<void>;
}

/** A readiness endpoint that is always ready: the validate stage of an "instant" deploy costs one request. */
export async function startAlwaysReadyEndpoint(): Promise<HealthEndpoint> {
  let count = 0;
  const server = http.createServer((req, res) => {
    count++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive' });
    res.end('{"status":"ready"}');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/readyz`,
    requests: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
