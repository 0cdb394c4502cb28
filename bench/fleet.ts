import os from 'node:os';
import { parseArgs } from 'node:util';
import { Cleanup } from './lib/cleanup';
import { machineInfo, type MachineInfo } from './lib/machine';
import { progress } from './lib/progress';
import { ADMIN_URL, startBenchWorld } from './lib/world';
import { TEMPORAL_LIMITS } from './fleet/executions';
import { runInstantFleet, STAND_IN_ENTRY, type InstantFleetResult } from './fleet/instant';
import { AGENT_ENTRY, runRealFleet, type RealFleetResult } from './fleet/real';
import { kb, type RolloutFigures } from './fleet/rollout-figures';

/**
 * `npm run bench:fleet`: fleet rollouts at scale. `real`: the example service on a fleet of 100 hosts (real
 * host agents, a few processes each serving many hosts, one service process per host), 1.0.0 then 1.1.0.
 * `instant`: 1,000 hosts whose stand-in agents answer at once, and what every execution (deploy, batch,
 * host) cost Temporal against its limits. Everything it starts is stopped at the end, also on Ctrl-C.
 */

const SCENARIOS = ['real', 'instant'] as const;
/** The host agent's activity pollers per host: the SDK's min(10, WORKER_MAX_CONCURRENT_ACTIVITIES = 100). */
const AGENT_POLLERS = 10;
/** Temporal's default limit of concurrent long polls per namespace and frontend instance. */
const DEFAULT_NAMESPACE_COUNT = 1200;
type Scenario = (typeof SCENARIOS)[number];

export const USAGE = `usage: npm run bench:fleet -- [--json] [--quick] [--only real,instant] [options]
  --json                 print one JSON object on stdout (progress goes to stderr); use npm run -s
  --quick                a smoke run: 12 real hosts (2 agents), 100 instant hosts (1 process)
  --hosts N              real: hosts of the example service (default 100; one service process each)
  --agents P             real: host agent processes serving them (default 4)
  --batch SIZE           batch size of both fleets, hosts or a percentage (default 10%)
  --instant-hosts N      instant: hosts (default 1000)
  --instant-agents P     instant: stand-in agent processes (default 4)
  --instant-polls K      instant: activity pollers per host task queue (default 2; the real agent polls with 10)
  --only LIST            run only these scenarios (comma-separated: real, instant)`;

interface FleetOptions {
  json: boolean;
  quick: boolean;
  hosts: number;
  agents: number;
  batch: string;
  instantHosts: number;
  instantAgents: number;
  instantPolls: number;
  only: Set<Scenario>;
}

class HelpRequested extends Error {}

function parseFleetOptions(argv: string[]): FleetOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      hosts: { type: 'string' },
      agents: { type: 'string' },
      batch: { type: 'string' },
      'instant-hosts': { type: 'string' },
      'instant-agents': { type: 'string' },
      'instant-polls': { type: 'string' },
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
  const batch = values.batch ?? '10%';
  if (!/^(100|[1-9][0-9]?)%$/.test(batch) && !/^[1-9][0-9]{0,3}$/.test(batch)) {
    throw new Error(`--batch ${JSON.stringify(batch)}: must be a number of hosts (e.g. 10) or a percentage 1%-100% (e.g. 10%)`);
  }
  const only = new Set<Scenario>();
  for (const s of (values.only ?? SCENARIOS.join(',')).split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--only: "${s}" is not a scenario; choose from ${SCENARIOS.join(', ')}`);
    only.add(s as Scenario);
  }
  return {
    json: values.json!,
    quick,
    // The real fleet needs a port and a service process per host; the instant one is capped by the spec (5000 hosts).
    hosts: int('hosts', values.hosts, quick ? 12 : 100, 1, 500),
    agents: int('agents', values.agents, quick ? 2 : 4, 1, 100),
    batch,
    instantHosts: int('instant-hosts', values['instant-hosts'], quick ? 100 : 1000, 1, 5000),
    instantAgents: int('instant-agents', values['instant-agents'], quick ? 1 : 4, 1, 100),
    instantPolls: int('instant-polls', values['instant-polls'], 2, 1, 10),
    only,
  };
}

interface FleetReport {
  real: RealFleetResult | null;
  instant: InstantFleetResult | null;
  limits: typeof TEMPORAL_LIMITS;
  /** frontend.namespaceCount the bench's dev server ran with: every host poller is a concurrent long poll. */
  namespaceCount: number;
  machine: MachineInfo;
  command: string;
  options: Record<string, unknown>;
  startedAt: string;
  durationSeconds: number;
  errors: Record<string, string>;
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pct = (share: number) => `${(share * 100).toFixed(2)} %`;

function rolloutRows(label: string, f: RolloutFigures): string[][] {
  return [
    [`${label}: whole deploy (wall)`, s(f.wallMs), Object.entries(f.stagesMs).map(([k, v]) => `${k} ${s(v)}`).join(', ')],
    [`${label}: deploy stage`, s(f.deployStageMs), `ideal ${s(f.idealDeployStageMs)} = ${f.batches} batches × median host ${s(f.hostMs.median)}; ${f.deployStageOverIdeal}× the ideal`],
    [`${label}: host child workflow`, `median ${s(f.hostMs.median)}`, `p95 ${s(f.hostMs.p95)}, max ${s(f.hostMs.max)}; batch median ${s(f.batchMs.median)}, batching overhead ${s(f.batchOverheadMs)} in all`],
    [`${label}: parent history`, `${f.parent.events} events`, `${kb(f.parent.historyBytes)}; largest payload ${kb(f.parent.largestPayloadBytes)}`],
    [`${label}: largest batch / host`, `${f.largestBatch.events} / ${f.largestHost.events} events`, `${kb(f.largestBatch.historyBytes)} / ${kb(f.largestHost.historyBytes)}`],
  ];
}

function formatReport(r: FleetReport): string {
  const rows: string[][] = [['measure', 'value', 'detail']];
  const m = r.machine;
  if (r.real) {
    const x = r.real;
    rows.push([`real fleet: ${x.hosts} hosts, ${x.agentProcesses} agent processes, batches of ${x.batchSize}`, '', `agents ready in ${s(x.agentsStartMs)}`]);
    rows.push(...rolloutRows('1.0.0 (first)', x.first), ...rolloutRows('1.1.0 (update)', x.update));
    rows.push(['worker peak RSS (VmHWM)', `${x.memory.workerPeakRssMb} MB`, '']);
    rows.push(['agents peak RSS (VmHWM)', `${x.memory.agentPeakRssMb.join(' / ')} MB`, `${Math.round(x.hosts / x.agentProcesses)} hosts each`]);
    rows.push(['service processes RSS', `${x.memory.serviceRssTotalMb} MB`, `median ${x.memory.serviceRssMedianMb} MB each`]);
    rows.push(['PostgreSQL connections, peak', `${x.peakPgConnections}`, `max_connections ${x.pgMaxConnections} (whole server)`]);
  }
  if (r.instant) {
    const x = r.instant;
    const l = x.rollout.limits;
    rows.push([`instant fleet: ${x.hosts} hosts, ${x.agentProcesses} stand-in processes`, '', x.agentStarts.map((a) => `${a.hosts} queues in ${s(a.startMs)}, ${a.rssMbWhenReady} MB`).join('; ')]);
    rows.push(...rolloutRows('instant', x.rollout));
    rows.push([`executions measured`, `${l.executions}`, Object.entries(l.byType).map(([t, v]) => `${v.count} ${t}`).join(', ')]);
    rows.push(['max events of any execution', `${l.max.events}`, `limit ${r.limits.historyEvents} (${pct(l.shareOfLimit.events)})`]);
    rows.push(['max history size of any execution', kb(l.max.historyBytes), `limit ${kb(r.limits.historyBytes)} (${pct(l.shareOfLimit.historyBytes)})`]);
    rows.push(['max pending children', `${l.max.pendingChildren}`, `limit ${r.limits.pendingChildren} (${pct(l.shareOfLimit.pendingChildren)})`]);
    rows.push(['max pending activities', `${l.max.pendingActivities}`, `limit ${r.limits.pendingActivities} (${pct(l.shareOfLimit.pendingActivities)})`]);
    rows.push(['largest payload', kb(l.max.payloadBytes), `limit ${kb(r.limits.payloadBytes)} (${pct(l.shareOfLimit.payloadBytes)}): ${l.largestPayload.event} of ${l.largestPayload.workflowId}`]);
    rows.push(['within Temporal\'s limits', l.withinLimits ? 'yes' : 'NO', '']);
    rows.push(['worker peak RSS (VmHWM)', `${x.memory.workerPeakRssMb} MB`, '']);
    rows.push(['stand-in agents peak RSS (VmHWM)', `${x.memory.agentPeakRssMb.join(' / ')} MB`, `${x.pollsPerQueue} poller(s) per task queue`]);
  }
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const lines = rows.map((row) => row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w, i) => '-'.repeat(i < 2 ? w : Math.min(w, 40))).join('  '));
  const errors = Object.entries(r.errors).map(([k, v]) => `\n${k} FAILED: ${v}`).join('');
  return (
    `${lines.join('\n')}\n\n` +
    `machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGb} GB, ${m.kernel}, Node ${m.node}, ${m.temporalCli}, PostgreSQL ${m.postgres}; ` +
    `load average ${m.loadAverageStart} at start, ${m.loadAverageEnd} at end; dev server with frontend.namespaceCount ${r.namespaceCount}\n` +
    `${r.startedAt}, ${r.durationSeconds} s: ${r.command}${errors}`
  );
}

async function main(): Promise<number> {
  let options: FleetOptions;
  try {
    options = parseFleetOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const cleanup = new Cleanup();
  cleanup.installSignalHandlers();
  const startedAt = new Date();
  const errors: Record<string, string> = {};
  let real: RealFleetResult | null = null;
  let instant: InstantFleetResult | null = null;
  let report: FleetReport;
  try {
    // One task queue per host: every poller of every agent is a long-running request, and the frontend takes
    // at most frontend.namespaceCount of them per namespace (default 1,200), which 1,000 hosts exceed.
    const pollers = (options.only.has('real') ? options.hosts * AGENT_POLLERS : 0) + (options.only.has('instant') ? options.instantHosts * options.instantPolls : 0);
    const namespaceCount = Math.max(DEFAULT_NAMESPACE_COUNT, 10 * pollers);
    progress(`host pollers: up to ${pollers} long polls; frontend.namespaceCount ${namespaceCount} (default ${DEFAULT_NAMESPACE_COUNT})`);
    const world = await startBenchWorld(cleanup, { compile: [AGENT_ENTRY, STAND_IN_ENTRY], dynamicConfig: { 'frontend.namespaceCount': namespaceCount } });
    const machine = await machineInfo(world.cliVersion, ADMIN_URL);
    progress(`machine: ${machine.nproc} CPUs, ${machine.memoryGb} GB, Node ${machine.node}, load average ${machine.loadAverageStart}`);
    const attempt = async <T>(name: string, run: () => Promise<T>): Promise<T | null> => {
      try {
        progress(`--- ${name}`);
        return await run();
      } catch (err) {
        errors[name] = (err as Error).message;
        progress(`${name} FAILED: ${(err as Error).stack ?? err}`);
        return null;
      }
    };
    if (options.only.has('real')) real = await attempt('real', () => runRealFleet(world, cleanup, { hosts: options.hosts, agentProcesses: options.agents, batchSize: options.batch }));
    if (options.only.has('instant')) {
      instant = await attempt('instant', () =>
        runInstantFleet(world, cleanup, { hosts: options.instantHosts, agentProcesses: options.instantAgents, batchSize: options.batch, polls: options.instantPolls }),
      );
    }
    machine.loadAverageEnd = Math.round(os.loadavg()[0]! * 100) / 100;
    report = {
      real,
      instant,
      limits: TEMPORAL_LIMITS,
      namespaceCount,
      machine,
      command: `npm run bench:fleet -- ${process.argv.slice(2).join(' ')}`.trim(),
      options: { ...options, only: [...options.only] },
      startedAt: startedAt.toISOString(),
      durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      errors,
    };
  } finally {
    progress('cleaning up');
    await cleanup.run();
  }
  if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else process.stdout.write(`${formatReport(report)}\n`);
  const beyond = report.instant && !report.instant.rollout.limits.withinLimits;
  return Object.keys(errors).length > 0 || beyond ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    progress(`bench failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
