import { parseArgs } from 'node:util';

export interface BenchOptions {
  json: boolean;
  quick: boolean;
  /** Overhead: measured deploys (and as many bare workflows). */
  n: number;
  warmup: number;
  /** Throughput: deploys (and bare workflows) started at once. */
  concurrency: number;
  /** Throughput: a run not finished this long after the batch started counts as stuck. */
  deadlineMs: number;
  /** Rollback MTTR: bad deploys measured. */
  rollbackTrials: number;
  /** Crash recovery: the spec's heartbeat timeout. */
  heartbeatMs: number;
  only: Set<Scenario>;
}

export const SCENARIOS = ['overhead', 'throughput', 'rollback', 'recovery'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const USAGE = `usage: npm run bench -- [--json] [--quick] [--n N] [--concurrency C] [--only overhead,throughput,rollback,recovery]
  --json            print one JSON object on stdout (progress goes to stderr); use npm run -s so npm's banner stays off stdout
  --quick           a smoke run: N=10, concurrency 20, one rollback trial, heartbeat 3 s
  --n N             overhead: measured deploys and bare workflows, each (default 60, at least 1)
  --warmup W        overhead: unmeasured runs first (default 3)
  --concurrency C   throughput: deploys and bare workflows started at once (default 200)
  --deadline-s S    throughput: seconds after which an unfinished run counts as stuck (default 300)
  --rollback-trials T  rollback MTTR: bad deploys measured (default 3)
  --heartbeat-ms H  crash recovery: heartbeat timeout of the killed stage (default 10000, the spec default)
  --only LIST       run only these scenarios (comma-separated)`;

/** Parses argv; throws an Error whose message names the bad option and what it accepts. */
export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      n: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      'deadline-s': { type: 'string' },
      'rollback-trials': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) throw new HelpRequested();
  const quick = values.quick!;
  const int = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    if (raw === undefined) return fallback;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${name} ${JSON.stringify(raw)}: must be a whole number from ${min} to ${max}`);
    return v;
  };
  const only = new Set<Scenario>();
  for (const s of (values.only ?? SCENARIOS.join(',')).split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--only: "${s}" is not a scenario; choose from ${SCENARIOS.join(', ')}`);
    only.add(s as Scenario);
  }
  return {
    json: values.json!,
    quick,
    n: int('n', values.n, quick ? 10 : 60, 1, 100_000),
    warmup: int('warmup', values.warmup, quick ? 2 : 3, 0, 1000),
    concurrency: int('concurrency', values.concurrency, quick ? 20 : 200, 1, 10_000),
    deadlineMs: int('deadline-s', values['deadline-s'], 300, 1, 86_400) * 1000,
    rollbackTrials: int('rollback-trials', values['rollback-trials'], quick ? 1 : 3, 1, 100),
    heartbeatMs: int('heartbeat-ms', values['heartbeat-ms'], quick ? 3_000 : 10_000, 1_000, 600_000),
    only,
  };
}

export class HelpRequested extends Error {}
