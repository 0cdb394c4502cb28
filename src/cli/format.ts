import type { Approval, CompensationRecord, DeployResult, DeployStatusView, GateState, StageRecord, TimelineEntry } from '../workflows/types';

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** ISO timestamp without milliseconds, in UTC: what operators paste into tickets. */
export function formatTime(t: string | Date | undefined | null): string {
  if (!t) return '-';
  const d = typeof t === 'string' ? new Date(t) : t;
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A plain-text table: columns padded to the widest cell, the last column left ragged. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

const STAGE_MARK: Record<StageRecord['status'], string> = { running: '…', succeeded: '✓', failed: '✗' };

export function stageRows(stages: StageRecord[], now = Date.now()): string[] {
  return table(
    ['', 'STAGE', 'STATUS', 'DURATION', 'SUMMARY'],
    stages.map((s) => [
      STAGE_MARK[s.status],
      s.stage,
      s.status,
      formatDuration(s.durationMs ?? (s.status === 'running' ? now - Date.parse(s.startedAt) : undefined)),
      oneLine(s.summary ?? ''),
    ]),
  ).map((l) => `  ${l}`);
}

export function gateLines(g: GateState): string[] {
  const lines = [`gate before ${g.stage}: ${g.decision ?? 'waiting'} — ${g.approvals.length}/${g.quorum} approval(s), approvers ${g.approvers.length ? g.approvers.join(', ') : 'anyone but the requester'}`];
  for (const a of g.approvals) lines.push(`  approved by ${approvalText(a)}`);
  if (g.rejectedBy) lines.push(`  rejected by ${g.rejectedBy.by} at ${formatTime(g.rejectedBy.at)}${g.rejectedBy.reason ? `: ${g.rejectedBy.reason}` : ''}`);
  if (!g.decision) lines.push(`  ${g.needed} more needed, deadline ${formatTime(g.deadline)} (then the deploy is rejected)`);
  return lines;
}

export function approvalText(a: Approval): string {
  return `${a.by} at ${formatTime(a.at)} via ${a.via}${a.comment ? ` ("${oneLine(a.comment)}")` : ''}`;
}

export function timelineLine(e: TimelineEntry): string {
  return `${formatTime(e.at)}  ${e.kind.padEnd(14)} ${e.stage ? `${e.stage}: ` : ''}${e.event}${e.detail ? ` — ${oneLine(e.detail)}` : ''}`;
}

export function compensationLine(c: CompensationRecord): string {
  return `${c.name} (undoes ${c.undoes}): ${c.status}${c.by ? ` by ${c.by}` : ''}${c.error ? ` — ${oneLine(c.error)}` : ''}`;
}

/** The status query, rendered for a person: where it is, what it waits for, how it got there. */
export function renderStatusView(v: DeployStatusView, o: { timelineTail?: number; now?: number } = {}): string[] {
  const lines: string[] = [];
  const what = v.service ? `${v.service} ${v.version ?? '?'} → ${v.environment}` : v.workflowId;
  lines.push(`${what}: ${v.status} (stage ${v.stage})${v.requestedBy ? `, requested by ${v.requestedBy}` : ''}${v.previousVersion ? `, replacing ${v.previousVersion}` : ''}`);
  if (v.waitingFor) lines.push(`waiting for: ${v.waitingFor}`);
  if (v.stages.length) lines.push('stages:', ...stageRows(v.stages, o.now));
  if (v.pendingGate) lines.push(...gateLines(v.pendingGate));
  if (v.pendingIntervention) {
    lines.push(
      `needs intervention since ${formatTime(v.pendingIntervention.since)}: ${v.pendingIntervention.compensation} failed — ${oneLine(v.pendingIntervention.error)}`,
      `  decide with: deployctl intervene ${v.service ?? '<service>'} --env ${v.environment ?? '<env>'} --by <you> --action retry|skip|abort`,
    );
  }
  const tail = v.timeline.slice(-(o.timelineTail ?? 8));
  if (tail.length) lines.push(`timeline (last ${tail.length} of ${v.timeline.length}):`, ...tail.map((e) => `  ${timelineLine(e)}`));
  return lines;
}

/** A finished deploy's summary from its result (or the failure's details). */
export function renderResult(r: DeployResult, o: { timelineTail?: number } = {}): string[] {
  // From the first stage to the last recorded event, so a rollback's compensation time is included.
  const lastAt = [r.timeline.at(-1)?.at, r.stages.at(-1)?.finishedAt].filter(Boolean).map((t) => Date.parse(t!));
  const total = r.stages.length && lastAt.length ? Math.max(...lastAt) - Date.parse(r.stages[0]!.startedAt) : undefined;
  const lines = [`${r.service} ${r.version} → ${r.environment}: ${r.outcome}${total !== undefined ? ` after ${formatDuration(total)}` : ''}${r.previousVersion ? ` (previous: ${r.previousVersion})` : ''}`];
  if (r.reason) lines.push(`reason: ${oneLine(r.reason)}`);
  if (r.artifactSha256) lines.push(`artifact: sha256 ${r.artifactSha256}`);
  if (r.stages.length) lines.push('stages:', ...stageRows(r.stages));
  if (r.approvals.length) lines.push('approvals:', ...r.approvals.map((a) => `  ${approvalText(a)}`));
  if (r.compensations.length) lines.push('compensations:', ...r.compensations.map((c) => `  ${compensationLine(c)}`));
  const tail = r.timeline.slice(-(o.timelineTail ?? 0));
  if (o.timelineTail && tail.length) lines.push(`timeline (last ${tail.length} of ${r.timeline.length}):`, ...tail.map((e) => `  ${timelineLine(e)}`));
  return lines;
}

export function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
