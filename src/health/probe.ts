import { MAX_EXPECTED_BODY_BYTES, unmetExpectation, type HealthExpectation } from './expect';
import type { Sample } from './report';

export type ProbeOutcome = Omit<Sample, 'atMs'>;

/**
 * The endpoint as it may appear in errors, reports and logs: scheme, host, port and path. Credentials and
 * the query string are left out because they may carry secrets (tokens in `?key=`).
 */
export function describeEndpoint(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Network failure codes from Node's fetch, in words an operator can act on. */
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (nothing listening?)',
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection closed before a complete response',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed temporarily',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate is self-signed',
  CERT_HAS_EXPIRED: 'TLS certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host name',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate cannot be verified',
};

/**
 * One probe: GET the URL and read the whole body, within timeoutMs. Success is an HTTP 2xx. Redirects are
 * not followed, so an endpoint that answers with a redirect (to a login page, another host) fails visibly.
 * Rejects only when `stop` aborts (cancellation or the analysis deadline), with stop's reason; every other
 * problem is a failed probe whose error names the endpoint without secrets.
 */
export async function probeOnce(o: {
  url: URL;
  timeoutMs: number;
  stop: AbortSignal;
  headers?: Record<string, string>;
  /** What the answer must say beyond a 2xx (status codes, body text, a JSON field). */
  expect?: HealthExpectation;
}): Promise<ProbeOutcome> {
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const endpoint = describeEndpoint(o.url);
  const started = performance.now();
  const latency = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const res = await fetch(o.url, {
      method: 'GET',
      headers: o.headers,
      redirect: 'manual',
      signal: AbortSignal.any([timeout, o.stop]),
    });
    // Reading the body to its end counts a stalled body as slow/failed and frees the connection for reuse.
    const kept: Uint8Array[] = [];
    let keptBytes = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        if (o.expect && keptBytes < MAX_EXPECTED_BODY_BYTES) {
          kept.push(chunk as Uint8Array);
          keptBytes += (chunk as Uint8Array).byteLength;
        }
      }
    }
    if (o.expect) {
      const unmet = unmetExpectation(o.expect, res.status, Buffer.concat(kept).subarray(0, MAX_EXPECTED_BODY_BYTES).toString('utf8'));
      return unmet ? { ok: false, status: res.status, error: `${unmet} from ${endpoint}`, latencyMs: latency() } : { ok: true, status: res.status, latencyMs: latency() };
    }
    const ok = res.status >= 200 && res.status <= 299;
    return ok
      ? { ok, status: res.status, latencyMs: latency() }
      : { ok, status: res.status, error: `HTTP ${res.status} from ${endpoint}`, latencyMs: latency() };
  } catch (err) {
    if (o.stop.aborted) throw o.stop.reason;
    if (timeout.aborted) {
      return { ok: false, error: `no complete response within ${o.timeoutMs}ms (requestTimeoutMs) from ${endpoint}`, latencyMs: latency() };
    }
    return { ok: false, error: `${describeNetworkError(err)} at ${endpoint}`, latencyMs: latency() };
  }
}

/** Only the error code is used: messages of lower layers may quote the full URL. */
function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause;
  const code = errorCode(cause) ?? errorCode(err);
  if (code) return `${NETWORK_ERRORS[code] ?? 'request failed'} (${code})`;
  if (cause instanceof Error && cause.message === 'bad port') return 'port blocked by fetch (a "bad port"; serve health on another port)';
  return `request failed (${err instanceof Error ? err.name : 'unknown error'})`;
}

function errorCode(e: unknown): string | undefined {
  if (e && typeof e === 'object') {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const inner = (e as { errors?: unknown[] }).errors; // AggregateError when several addresses were tried
    if (Array.isArray(inner) && inner.length > 0) return errorCode(inner[0]);
  }
  return undefined;
}
