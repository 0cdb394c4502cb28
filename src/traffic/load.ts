import http from 'node:http';
import { z } from 'zod';
import { parseOrRefuse } from './schema';

/**
 * A bounded load client for loopback front doors: it sends GET requests at a steady rate (or as fast as
 * `concurrency` allows) and counts every outcome — answers by status and body, HTTP errors, connection
 * failures, timeouts — so a traffic switch can be judged by what clients saw. Requests are grouped into
 * phases (`run.phase('after-switch')`): an outcome counts in the phase its request was sent in, so "only B
 * answers after the switch" is judged on requests sent after it, not on ones still in flight.
 *
 * Bounded: loopback URLs only, at most 1000 concurrent requests and 10 000 per second, and every run
 * stops at `maxRequests` or `durationMs`, whichever comes first.
 *
 * Written here rather than taken from autocannon: what a switch is judged by is which version answered
 * requests sent in a given phase, and whether any request failed — per-request bookkeeping that
 * autocannon's aggregate results do not give without hooking every response — while its strengths
 * (pipelining, an own HTTP parser, histograms at high rates) are not needed at a few hundred requests per
 * second. Node's own http client is also what the services' real clients look like.
 */

const loopbackUrl = z
  .string()
  .refine((u) => URL.canParse(u), 'must be a URL like http://127.0.0.1:18081/')
  .refine((u) => {
    if (!URL.canParse(u)) return true;
    const url = new URL(u);
    return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  }, 'must be an http:// URL on 127.0.0.1, localhost or [::1]: the load client only drives local front doors');

export const loadOptionsSchema = z.strictObject({
  url: loopbackUrl,
  /** Requests in flight at most. */
  concurrency: z.number().int('must be an integer').min(1, 'must be 1-1000').max(1000, 'must be 1-1000').default(8),
  /** Requests started per second; omitted: each of `concurrency` loops sends its next request as soon as one ends. */
  ratePerSecond: z.number().min(1, 'must be 1-10000').max(10_000, 'must be 1-10000').optional(),
  /** The run ends after this many requests were sent… */
  maxRequests: z.number().int('must be an integer').min(1, 'must be at least 1').max(10_000_000).default(1_000_000),
  /** …or after this long, whichever comes first. */
  durationMs: z.number().int('must be an integer').min(1, 'must be at least 1').max(3_600_000, 'must be at most 1 hour').default(600_000),
  /** A request without a complete answer after this long counts as a timeout. */
  requestTimeoutMs: z.number().int('must be an integer').min(1, 'must be at least 1').default(10_000),
  /** Reuse connections (as browsers and most clients do); false opens one connection per request. */
  keepAlive: z.boolean().default(true),
  /** Bodies longer than this are counted under their first `bodyLimit` characters. */
  bodyLimit: z.number().int().min(0).max(4096).default(64),
});
export type LoadOptions = z.input<typeof loadOptionsSchema>;

export interface LoadCounts {
  sent: number;
  /** Requests that got a complete HTTP answer (any status). */
  answered: number;
  /** Answers by status code. */
  byStatus: Record<string, number>;
  /** 2xx answers by body (trimmed), e.g. the version a release answers. */
  byBody: Record<string, number>;
  /** Answers with a status of 400 or more. */
  httpErrors: number;
  /** Requests that got no answer: refused, reset, closed… by error code. */
  connectionFailures: Record<string, number>;
  /** Requests that got no complete answer within requestTimeoutMs. */
  timeouts: number;
  /** httpErrors + every connection failure + timeouts. */
  failed: number;
  /** Latency of answered requests, in ms. */
  latencyMs: { p50: number; p99: number; max: number } | null;
}

export interface LoadReport extends LoadCounts {
  url: string;
  elapsedMs: number;
  /** Started per second over the run. */
  achievedRatePerSecond: number;
  phases: Record<string, LoadCounts>;
  stoppedBy: 'maxRequests' | 'duration' | 'stop';
}

class Counter {
  sent = 0;
  answered = 0;
  byStatus: Record<string, number> = {};
  byBody: Record<string, number> = {};
  httpErrors = 0;
  connectionFailures: Record<string, number> = {};
  timeouts = 0;
  latencies: number[] = [];

  counts(): LoadCounts {
    const failures = Object.values(this.connectionFailures).reduce((a, b) => a + b, 0);
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return {
      sent: this.sent,
      answered: this.answered,
      byStatus: { ...this.byStatus },
      byBody: { ...this.byBody },
      httpErrors: this.httpErrors,
      connectionFailures: { ...this.connectionFailures },
      timeouts: this.timeouts,
      failed: this.httpErrors + failures + this.timeouts,
      latencyMs: sorted.length ? { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted.at(-1)!) } : null,
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

export interface LoadRun {
  /** Requests sent from now on count in phase `label` (as well as in the totals). */
  phase(label: string): void;
  /** Counts so far, without stopping. */
  snapshot(): LoadReport;
  /** Stops sending, waits for requests in flight, and returns the report. */
  stop(): Promise<LoadReport>;
  /** Resolves when the run ended by itself (maxRequests or durationMs) or was stopped. */
  readonly done: Promise<LoadReport>;
}

/** Starts a load run; refuses bad options with InvalidInput naming the field. */
export function startLoad(input: LoadOptions): LoadRun {
  const o = parseOrRefuse(loadOptionsSchema, input, 'load');
  const url = new URL(o.url);
  const agent = new http.Agent({ keepAlive: o.keepAlive, maxSockets: o.concurrency });
  const total = new Counter();
  const phases = new Map<string, Counter>();
  let current: Counter | null = null;
  let inFlight = 0;
  let stopping = false;
  let stoppedBy: LoadReport['stoppedBy'] = 'stop';
  const started = performance.now();
  const slotFreed: Array<() => void> = [];

  const report = (): LoadReport => {
    const elapsedMs = performance.now() - started;
    return {
      url: o.url,
      ...total.counts(),
      elapsedMs: Math.round(elapsedMs),
      achievedRatePerSecond: Math.round((total.sent / Math.max(elapsedMs, 1)) * 1000 * 10) / 10,
      phases: Object.fromEntries([...phases].map(([label, c]) => [label, c.counts()])),
      stoppedBy,
    };
  };

  const one = (): Promise<void> => {
    const counters = current ? [total, current] : [total];
    for (const c of counters) c.sent++;
    inFlight++;
    const sentAt = performance.now();
    return new Promise<void>((resolve) => {
      let settled = false;
      const settle = (record: (c: Counter) => void) => {
        if (settled) return;
        settled = true;
        for (const c of counters) record(c);
        inFlight--;
        slotFreed.shift()?.();
        resolve();
      };
      const req = http.get(
        { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 80, path: `${url.pathname}${url.search}`, agent },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            if (body.length < o.bodyLimit) body += chunk;
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const ms = performance.now() - sentAt;
            settle((c) => {
              c.answered++;
              bump(c.byStatus, String(status));
              if (status >= 400) c.httpErrors++;
              else if (status >= 200 && status < 300) bump(c.byBody, body.slice(0, o.bodyLimit).trim());
              c.latencies.push(ms);
            });
          });
          res.on('error', (err: NodeJS.ErrnoException) => settle((c) => bump(c.connectionFailures, err.code ?? 'ERESPONSE')));
        },
      );
      req.setTimeout(o.requestTimeoutMs, () => {
        settle((c) => c.timeouts++);
        req.destroy();
      });
      req.on('error', (err: NodeJS.ErrnoException) => settle((c) => bump(c.connectionFailures, err.code ?? err.message)));
    });
  };

  const waitForSlot = () => (inFlight < o.concurrency ? Promise.resolve() : new Promise<void>((r) => slotFreed.push(r)));
  const deadline = started + o.durationMs;
  const outstanding = new Set<Promise<void>>();
  const launch = () => {
    const p = one();
    outstanding.add(p);
    void p.then(() => outstanding.delete(p));
  };
  const shouldGoOn = (): boolean => {
    if (stopping) return false;
    if (total.sent >= o.maxRequests) {
      stoppedBy = 'maxRequests';
      return false;
    }
    if (performance.now() >= deadline) {
      stoppedBy = 'duration';
      return false;
    }
    return true;
  };

  const paced = async () => {
    const interval = 1000 / o.ratePerSecond!;
    for (let i = 0; ; i++) {
      const due = started + i * interval;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      await waitForSlot();
      if (!shouldGoOn()) return;
      launch();
    }
  };
  const closedLoop = async () => {
    const worker = async () => {
      while (shouldGoOn()) await one();
    };
    await Promise.all(Array.from({ length: o.concurrency }, worker));
  };

  const done = (async () => {
    await (o.ratePerSecond ? paced() : closedLoop());
    await Promise.all(outstanding);
    agent.destroy();
    return report();
  })();

  return {
    phase(label: string) {
      let c = phases.get(label);
      if (!c) phases.set(label, (c = new Counter()));
      current = c;
    },
    snapshot: report,
    async stop() {
      stopping = true;
      // Wake a paced loop waiting for a slot so it sees the stop.
      while (slotFreed.length) slotFreed.shift()!();
      return done;
    },
    done,
  };
}
