/** One probe of the health endpoint. */
export interface Sample {
  /** When the probe completed, in milliseconds since the analysis started. */
  atMs: number;
  /** True for an HTTP 2xx answer, body included, within requestTimeoutMs. */
  ok: boolean;
  /** HTTP status, when an answer arrived. */
  status?: number;
  /** Why the probe failed, naming the endpoint by scheme, host, port and path only (never query or credentials). */
  error?: string;
  /** From sending the request to the end of the answer's body (or to the failure). */
  latencyMs: number;
}

export type HealthBreach = 'consecutive_failures' | 'success_ratio' | 'p95_latency' | 'deadline';

/** The outcome of a health analysis so far; small enough to heartbeat and to keep in workflow history. */
export interface HealthReport {
  passed: boolean;
  /** A sentence: why it passed, or which threshold was breached and by how much. */
  reason: string;
  breached?: HealthBreach;
  samples: number;
  successes: number;
  failures: number;
  /** successes / samples; 0 before the first sample. */
  successRatio: number;
  /** Nearest-rank percentiles over every probe's latency, failed probes included; 0 before the first sample. */
  p50LatencyMs: number;
  p95LatencyMs: number;
  firstFailure?: { atMs: number; status?: number; error?: string };
  durationMs: number;
  /** When the breach was decided (the breaching probe completed, or the window ended), since the start. */
  breachAtMs?: number;
  /** The same moment as a Unix epoch in milliseconds, to measure time to rollback across processes. */
  breachAtEpochMs?: number;
}
