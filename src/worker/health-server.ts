import http from 'node:http';
import { fetchSdkMetrics, type SdkMetricsSource } from '../metrics/sdk-metrics';
import type { DeployWorker } from './create';
import { listenHealthPort } from './health-port';

export interface HealthServerOptions {
  port: number;
  /** The operator set the port: a busy one is an error instead of giving way to the next. */
  explicit: boolean;
  log: (line: string) => void;
  /** The SDK's Prometheus exporter, whose `temporal_*` series /metrics serves next to `deploy_*`. */
  sdkMetrics?: SdkMetricsSource;
}

/**
 * /healthz: the process is alive. /readyz: it can do work — connected to Temporal, the registry database
 * answers, and the worker is polling its task queue. /metrics: Prometheus text, the SDK's `temporal_*`
 * series and the orchestrator's `deploy_*` (docs/metrics.md).
 */
export async function startHealthServer(
  workerOf: () => DeployWorker | undefined,
  o: HealthServerOptions,
): Promise<{ server: http.Server; port: number }> {
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    // The port is bound before the worker is built (bundling takes seconds), so a busy port fails fast.
    const w = workerOf();
    if (req.url === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      const [sdk, own] = await Promise.all([
        o.sdkMetrics
          ? fetchSdkMetrics(o.sdkMetrics).catch((e: Error) => `# temporal_* series unavailable: ${e.message.replace(/\s+/g, ' ')}\n`)
          : Promise.resolve(''),
        w ? w.metrics.text() : Promise.resolve(''),
      ]);
      const body = (sdk && !sdk.endsWith('\n') ? `${sdk}\n` : sdk) + own;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (req.url === '/readyz') {
      if (!w) {
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready: false, checks: { polling: 'worker is starting' } }) + '\n');
        return;
      }
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
  const port = await listenHealthPort(server, o);
  return { server, port };
}
