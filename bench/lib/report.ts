import type { MachineInfo } from './machine';
import type { OverheadResult } from '../scenarios/overhead';
import type { RecoveryResult } from '../scenarios/recovery';
import type { RollbackResult } from '../scenarios/rollback';
import type { ThroughputResult } from '../scenarios/throughput';

export const TARGETS = {
  overheadRatioMax: 1.5,
  throughputRatioMin: 0.6,
  stuckMax: 0,
  rollbackMttrMsMax: 2000,
  /** recovery ≤ heartbeat timeout + this */
  recoveryAboveHeartbeatMsMax: 2000,
  /** The deploy worker's peak RSS against the bare SDK worker's on the same batch (same run, same load). */
  workerPeakRssRatioMax: 1.3,
};

export interface BenchReport {
  overheadRatio: number | null;
  throughputRatio: number | null;
  rollbackMttrMs: number | null;
  recoveryMs: number | null;
  heartbeatTimeoutMs: number | null;
  workerPeakRssMb: number | null;
  /** The bare SDK worker's peak RSS on the same batch (throughput run). */
  bareWorkerPeakRssMb: number | null;
  /** workerPeakRssMb / bareWorkerPeakRssMb */
  workerPeakRssRatio: number | null;
  stuck: number | null;
  overheadMedianMs: { deploy: number; bare: number } | null;
  overheadP95Ms: { deploy: number; bare: number } | null;
  throughputPerSecond: { deploy: number; bare: number } | null;
  targets: Record<string, { target: string; value: number | null; met: boolean | null }>;
  overhead: OverheadResult | null;
  throughput: ThroughputResult | null;
  rollback: RollbackResult | null;
  recovery: RecoveryResult | null;
  machine: MachineInfo;
  command: string;
  options: Record<string, unknown>;
  startedAt: string;
  durationSeconds: number;
  errors: Record<string, string>;
}

export function judge(r: Omit<BenchReport, 'targets'>): BenchReport['targets'] {
  const check = (value: number | null, target: string, ok: (v: number) => boolean) => ({ target, value, met: value === null ? null : ok(value) });
  const hb = r.heartbeatTimeoutMs ?? 0;
  return {
    overheadRatio: check(r.overheadRatio, `<= ${TARGETS.overheadRatioMax}`, (v) => v <= TARGETS.overheadRatioMax),
    throughputRatio: check(r.throughputRatio, `>= ${TARGETS.throughputRatioMin}`, (v) => v >= TARGETS.throughputRatioMin),
    stuck: check(r.stuck, `= ${TARGETS.stuckMax}`, (v) => v <= TARGETS.stuckMax),
    rollbackMttrMs: check(r.rollbackMttrMs, `<= ${TARGETS.rollbackMttrMsMax}`, (v) => v <= TARGETS.rollbackMttrMsMax),
    recoveryMs: check(r.recoveryMs, `<= heartbeatTimeoutMs + ${TARGETS.recoveryAboveHeartbeatMsMax} = ${hb + TARGETS.recoveryAboveHeartbeatMsMax}`, (v) => v <= hb + TARGETS.recoveryAboveHeartbeatMsMax),
    workerPeakRssRatio: check(r.workerPeakRssRatio, `<= ${TARGETS.workerPeakRssRatioMax} (deploy worker peak / bare worker peak, same batch)`, (v) => v <= TARGETS.workerPeakRssRatioMax),
  };
}

/** The human-readable report: the headline table, then where the time goes. */
export function formatTable(r: BenchReport): string {
  const rows: string[][] = [['measure', 'value', 'target', 'met']];
  const met = (k: string) => (r.targets[k]?.met === null || r.targets[k] === undefined ? '-' : r.targets[k]!.met ? 'yes' : 'NO');
  const o = r.overhead;
  if (o) {
    rows.push([`deploy latency, instant spec (N=${o.n})`, `median ${o.deploy.medianMs} ms, p95 ${o.deploy.p95Ms} ms`, '', '']);
    rows.push([`bare workflow, 7 no-op activities (N=${o.n})`, `median ${o.bare.medianMs} ms, p95 ${o.bare.p95Ms} ms`, '', '']);
    rows.push(['overhead ratio (medians)', `${o.ratio}x`, r.targets.overheadRatio!.target, met('overheadRatio')]);
  }
  const t = r.throughput;
  if (t) {
    rows.push([`throughput, ${t.concurrency} deploys at once`, `${t.deploy.perSecond}/s (${t.deploy.completed} in ${t.deploy.seconds} s)`, '', '']);
    rows.push([
      `throughput, ${t.concurrency} bare workflows at once (before, after the deploys)`,
      `${t.barePerSecond}/s (${t.bare.completed} in ${t.bare.seconds} s, ${t.bareAfter.completed} in ${t.bareAfter.seconds} s)`,
      '',
      '',
    ]);
    rows.push(['throughput ratio', `${t.ratio}x`, r.targets.throughputRatio!.target, met('throughputRatio')]);
    rows.push(['stuck (deploy + bare) / failed', `${t.deploy.stuck + t.bareStuck} / ${t.deploy.failed + t.bareFailed}`, r.targets.stuck!.target, met('stuck')]);
    rows.push([`deploy worker peak RSS (VmHWM, ${t.concurrency} in flight)`, `${r.workerPeakRssMb} MB (idle ${t.workerMemory.deploy.idleMb} MB) + its command runner ${t.commandRunnerPrivateMb} MB private (${t.commandRunnerHwmMb} MB RSS with shared pages)`, '', '']);
    rows.push([
      `bare worker peak RSS (VmHWM, ${t.concurrency} in flight, mean of before and after)`,
      `${r.bareWorkerPeakRssMb} MB (${t.workerMemory.bare.hwmMb} and ${t.workerMemory.bareAfter.hwmMb}; idle ${t.workerMemory.bare.idleMb} MB)`,
      '',
      '',
    ]);
    rows.push(['worker peak RSS ratio (deploy / bare)', `${r.workerPeakRssRatio}x`, `<= ${TARGETS.workerPeakRssRatioMax}`, met('workerPeakRssRatio')]);
  }
  const rb = r.rollback;
  if (rb) rows.push([`rollback MTTR, local target (${rb.trials.length} trials)`, `median ${rb.medianMs} ms, max ${rb.maxMs} ms`, `${r.targets.rollbackMttrMs!.target} ms`, met('rollbackMttrMs')]);
  const rc = r.recovery;
  if (rc) {
    rows.push([`crash recovery, kill -9 in ${rc.stage}, standby worker`, `${rc.recoveryMs} ms (heartbeat timeout ${rc.heartbeatTimeoutMs} ms)`, `${r.targets.recoveryMs!.target} ms`, met('recoveryMs')]);
    rows.push([`crash recovery, worker restarted after the kill`, `${rc.recoveryWithRestartMs} ms`, '(for information)', '']);
  }

  const out = [table(rows)];
  if (t) out.push(verdictLine(r));
  if (o) {
    const names = Object.keys(o.profile.deploy.activityMs);
    const prof: string[][] = [['where the time goes (server clock, medians)', 'deploy', 'bare']];
    for (const n of names) prof.push([`  ${n}: scheduled -> closed`, `${o.profile.deploy.activityMs[n]} ms`, `${o.profile.bare.activityMs[n] ?? '-'} ms`]);
    prof.push(['  activity wait for a worker (scheduled -> started)', `${o.profile.deploy.queueMs} ms`, `${o.profile.bare.queueMs} ms`]);
    prof.push(['  all activities', `${o.profile.deploy.inActivitiesMs} ms`, `${o.profile.bare.inActivitiesMs} ms`]);
    prof.push(['  between activities (workflow tasks)', `${o.profile.deploy.betweenActivitiesMs} ms`, `${o.profile.bare.betweenActivitiesMs} ms`]);
    prof.push(['  history events / workflow tasks / SA upserts', `${o.profile.deploy.historyEvents} / ${o.profile.deploy.workflowTasks} / ${o.profile.deploy.searchAttributeUpserts}`, `${o.profile.bare.historyEvents} / ${o.profile.bare.workflowTasks} / ${o.profile.bare.searchAttributeUpserts}`]);
    out.push(table(prof));
  }
  if (t?.deploy.profile && t.bare.profile) {
    const d = t.deploy.profile;
    const b = t.bare.profile;
    const prof: string[][] = [[`throughput run, first 20 of each (server clock, medians)`, 'deploy', 'bare']];
    for (const n of Object.keys(d.activityMs)) prof.push([`  ${n}: scheduled -> closed`, `${d.activityMs[n]} ms`, `${b.activityMs[n] ?? '-'} ms`]);
    prof.push(['  activity wait for a worker (scheduled -> started)', `${d.queueMs} ms`, `${b.queueMs} ms`]);
    prof.push(['  between activities (workflow tasks)', `${d.betweenActivitiesMs} ms`, `${b.betweenActivitiesMs} ms`]);
    prof.push(['  start to close of one run', `${d.serverDurationMs} ms`, `${b.serverDurationMs} ms`]);
    out.push(table(prof));
  }
  if (rb) {
    const tr: string[][] = [['rollback trial (ms after the breaching probe)', 'validate failed', 'rollbackDeploy scheduled', 'rollbackDeploy done', '1.1.0 ready']];
    rb.trials.forEach((x, i) => tr.push([`  trial ${i + 1}`, String(x.validateFailedMs), String(x.rollbackScheduledMs), String(x.rollbackCompletedMs), String(x.mttrMs)]));
    out.push(table(tr));
  }
  if (rc) {
    const tr: string[][] = [['crash recovery (ms after the kill)', 'killed into stage', 'second worker ready', 'finishing attempt started', 'stage completed']];
    for (const x of rc.runs) tr.push([`  ${x.mode} (attempt #${x.attempts})`, String(x.killedAfterMs), String(x.secondWorkerReadyMs), String(x.retryStartedMs), String(x.recoveryMs)]);
    out.push(table(tr));
  }
  const m = r.machine;
  out.push(
    `machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGb} GB, Node ${m.node}, ${m.temporalCli}, PostgreSQL ${m.postgres}, ` +
      `${m.kernel}; load average ${m.loadAverageStart} at start, ${m.loadAverageEnd ?? '?'} at end; ${r.durationSeconds} s in all`,
  );
  for (const [k, v] of Object.entries(r.errors)) out.push(`ERROR in ${k}: ${v}`);
  return out.join('\n\n');
}

/**
 * The throughput run's two goals in one line, both measured against the bare SDK worker in the same run:
 * e.g. "throughput run: memory 1.21x (deploy 280.5 MB + command runner 40.0 MB / bare 265.0 MB, goal <=
 * 1.3x) PASS; throughput 0.64x (goal >= 0.6x) PASS".
 */
export function verdictLine(r: Pick<BenchReport, 'workerPeakRssMb' | 'bareWorkerPeakRssMb' | 'workerPeakRssRatio' | 'throughputRatio' | 'targets' | 'throughput'>): string {
  const word = (k: string) => (r.targets[k]?.met === true ? 'PASS' : r.targets[k]?.met === false ? 'MISS' : 'not measured');
  return (
    `throughput run: memory ${r.workerPeakRssRatio}x (deploy ${r.workerPeakRssMb} MB + command runner ${r.throughput?.commandRunnerPrivateMb ?? 0} MB / bare ${r.bareWorkerPeakRssMb} MB, goal <= ${TARGETS.workerPeakRssRatioMax}x) ${word('workerPeakRssRatio')}; ` +
    `throughput ${r.throughputRatio}x (goal >= ${TARGETS.throughputRatioMin}x) ${word('throughputRatio')}`
  );
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => (cell ?? '').padEnd(widths[c]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
