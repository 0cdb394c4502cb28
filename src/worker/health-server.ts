import http from 'node:http';
import type { DeployWorker } from './create';

/**
 * /healthz: the process is alive. /readyz: it can do work — connected to Temporal, the registry database
 * answers, and the worker is polling its task queue.
 */
export function startHealthServer(w: DeployWorker, port: number): Promise<http.Server> {
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.url === '/readyz') {
      const checks: Record<string, string> = {};
      const state = w.worker.getState();
      checks.polling = state === 'RUNNING' ? 'ok' : `worker is ${state}`;
      checks.temporal = await w.connection.healthService
        .check({})
        .then((r) => (r.status === 1 ? 'ok' : `status ${r.status}`))
        .catch((e: Error) => `unreachable: ${e.message}`);
      checks.database = await w.registry.pool
        .query('SELECT 1')
        .then(() => 'ok')
        .catch((e: Error) => `unreachable: ${e.message}`);
      const ok = Object.values(checks).every((v) => v === 'ok');
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready: ok, checks }) + '\n');
      return;
    }
    res.writeHead(404).end();
  };
  // http ignores what a handler returns: a failure must answer here, not become an unhandled rejection
  // that would end the worker.
  const server = http.createServer((req, res) => {
    answer(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`health check failed: ${err.message}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
