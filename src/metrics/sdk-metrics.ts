import net from 'node:net';
import { Runtime, type Logger } from '@temporalio/worker';

/** Where the SDK's own Prometheus exporter answers: loopback only, on a port of its own. */
export interface SdkMetricsSource {
  url: string;
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Installs the SDK Runtime with its Prometheus exporter on a free loopback port. The exporter cannot share
 * the health port and does not report the port it bound, so the port is chosen here (and chosen again if
 * another process takes it between the choice and the bind). Durations are in seconds, as Prometheus
 * expects; names keep the SDK's `temporal_` prefix.
 */
export async function installRuntimeWithSdkMetrics(logger: Logger): Promise<SdkMetricsSource> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeLoopbackPort();
    try {
      Runtime.install({
        logger,
        telemetryOptions: { metrics: { metricPrefix: 'temporal_', prometheus: { bindAddress: `127.0.0.1:${port}`, useSecondsForDurations: true } } },
      });
      return { url: `http://127.0.0.1:${port}/metrics` };
    } catch (err) {
      if (!/in use/i.test(err instanceof Error ? err.message : String(err))) throw err;
      lastError = err;
    }
  }
  throw new Error(`the SDK metrics exporter found no free loopback port: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

/** The SDK's series as Prometheus text; rejects when the exporter does not answer within `timeoutMs`. */
export async function fetchSdkMetrics(source: SdkMetricsSource, timeoutMs = 2_000): Promise<string> {
  const res = await fetch(source.url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`SDK metrics exporter answered ${res.status}`);
  return res.text();
}
