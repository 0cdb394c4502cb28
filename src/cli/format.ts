import type { Approval, CompensationRecord, DeployResult, DeployStatusView, GateState, SignatureProof, StageRecord, TimelineEntry, TrafficState } from '../workflows/types';
import type { FleetProgress } from '../workflows/fleet/types';

/**
 * Text that came from a payload (a name, comment, reason, refusal, error, search attribute), made safe to
 * print on a terminal: escape sequences (CSI, OSC, …) are removed, other control characters and line
 * breaks become spaces, and bidi overrides, zero-width characters and byte-order marks are dropped, so a
 * payload can neither move the cursor, recolour or retitle the terminal, forge a line of output, nor
 * display as something other than what it says.
 */
export function safeText(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value ?? '');
  return s
    .replace(/\x1b\[[0-?]*[ -\/]*[@-~]?/g, '') // CSI: ESC [ params intermediates final
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?/g, '') // OSC: ESC ] … BEL or ST
    .replace(/\x1b[PX^_][^\x1b]*(?:\x1b\\)?/g, '') // DCS, SOS, PM, APC strings
    .replace(/\x1b[\s\S]?/g, '') // any other escape
    .replace(/\u009b[0-?]*[ -\/]*[@-~]?/g, '') // the 8-bit CSI
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .replace(/[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g, '');
}

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
  return Number.isNaN(d.getTime()) ? oneLine(String(t), 40) : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A plain-text table: columns padded to the widest cell, the last column left ragged. Cells are printed safely. */
export function table(header: string[], rawRows: string[][]): string[] {
  const rows = rawRows.map((r) => r.map((c) => oneLine(c)));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

const STAGE_MARK: Record<StageRecord['status'], string> = { running: '…', succeeded: '✓', failed: '✗' };

export function stageRows(stages: StageRecord[], now = Date.now()): string[] {
  return table(
    ['', 'STAGE', 'STATUS', 'DURATION', 'SUMMARY'],
    stages.map((s) => [
      STAGE_MARK[s.status] ?? '?',
      s.stage,
      s.status,
      formatDuration(s.durationMs ?? (s.status === 'running' ? now - Date.parse(s.startedAt) : undefined)),
      s.summary ?? '',
    ]),
  ).map((l) => `  ${l}`);
}

/**
 * What a signature bound, in one line, read back from the signed statement: "approve hello-service 1.1.0
 * → production before migrate (artifact 4f5c2b7d9e0a…, run 0198c7a1…)". The full statement is in the JSON
 * output and in the workflow's history.
 */
export function signedWhat(statement: string): string {
  const fields = new Map<string, string>();
  const lines = String(statement).split('\n');
  for (const line of lines.slice(1)) {
    const at = line.indexOf(': ');
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 2));
  }
  const short = (v: string | undefined, n: number) => (v && v.length > n ? `${v.slice(0, n)}…` : (v ?? '?'));
  if (/stop request v\d+$/.test(lines[0] ?? '')) {
    return oneLine(`${fields.get('action')} request of ${fields.get('service')} in ${fields.get('environment')} by ${fields.get('requested-by')} at ${fields.get('requested-at')}`, 200);
  }
  if (/request v\d+$/.test(lines[0] ?? '')) {
    return oneLine(`request of ${fields.get('service')} ${fields.get('version')} → ${fields.get('environment')} by ${fields.get('requested-by')} at ${fields.get('requested-at')}`, 200);
  }
  const artifact = fields.get('artifact-sha256');
  return oneLine(
    `${fields.get('decision') ?? '?'} ${fields.get('service')} ${fields.get('version')} → ${fields.get('environment')} at ${fields.get('stage')} ` +
      `(artifact ${artifact === 'none' ? 'not built yet' : short(artifact, 12)}, run ${short(fields.get('run-id'), 8)})`,
    200,
  );
}

/** "signed by alice with key SHA256:… (ssh-ed25519): approve hello-service 1.1.0 → production at migrate (…)". */
export function signatureText(proof: SignatureProof): string {
  return `signed by ${oneLine(proof.signer, 64)} with key ${oneLine(proof.fingerprint, 80)} (${oneLine(proof.keyType, 40)}): ${signedWhat(proof.statement)}`;
}

/** One decision (approval, rejection, intervention) and, under it, what its signature proves. */
function decisionLines(head: string, signature: SignatureProof | undefined, signedGate: boolean | undefined): string[] {
  if (signature) return [head, `    ${signatureText(signature)}`];
  return [signedGate ? `${head} — NOT SIGNED` : `${head} (not signed)`];
}

export function gateLines(g: GateState, o: { service?: string; environment?: string } = {}): string[] {
  const approvers = g.approvers.length ? g.approvers.map((a) => oneLine(a, 64)).join(', ') : 'anyone but the requester';
  const lines = [
    `gate before ${oneLine(g.stage)}: ${oneLine(g.decision ?? 'waiting')} — ${g.approvals.length}/${g.quorum} approval(s), approvers ${approvers}${g.signed ? ', decisions must be signed' : ''}`,
  ];
  for (const a of g.approvals) lines.push(...decisionLines(`  approved by ${approvalText(a)}`, a.signature, g.signed));
  if (g.rejectedBy) {
    const r = g.rejectedBy;
    lines.push(...decisionLines(`  rejected by ${oneLine(r.by, 64)} at ${formatTime(r.at)}${r.reason ? `: ${oneLine(r.reason)}` : ''}`, r.signature, g.signed));
  }
  if (!g.decision) {
    lines.push(`  ${g.needed} more needed, deadline ${formatTime(g.deadline)} (then the deploy is rejected)`);
    if (g.signed && o.service && o.environment) {
      lines.push(`  decide with: deployctl approve|reject ${o.service} --env ${o.environment} --by <you> --key <your private key, or its .pub in ssh-agent>`);
    }
  }
  return lines;
}

export function approvalText(a: Approval): string {
  return `${oneLine(a.by, 64)} at ${formatTime(a.at)} via ${oneLine(a.via, 10)}${a.comment ? ` ("${oneLine(a.comment)}")` : ''}`;
}

export function timelineLine(e: TimelineEntry): string {
  return `${formatTime(e.at)}  ${oneLine(e.kind, 20).padEnd(14)} ${e.stage ? `${oneLine(e.stage, 64)}: ` : ''}${oneLine(e.event)}${e.detail ? ` — ${oneLine(e.detail)}` : ''}`;
}

export function compensationLine(c: CompensationRecord): string {
  return `${oneLine(c.name, 64)} (undoes ${oneLine(c.undoes, 64)}): ${oneLine(c.status, 20)}${c.by ? ` by ${oneLine(c.by, 64)}` : ''}${c.error ? ` — ${oneLine(c.error)}` : ''}`;
}

/** Decisions the deploy refused (signals: wrong approver, missing or bad signature, invalid payload). */
export function refusedDecisions(timeline: TimelineEntry[]): TimelineEntry[] {
  return timeline.filter((e) => e.kind === 'signal_refused');
}

/** The refused decisions, prominently: how many, then the last few with who and why. */
export function refusalLines(timeline: TimelineEntry[], last = 3): string[] {
  const refused = refusedDecisions(timeline);
  if (refused.length === 0) return [];
  const shown = refused.slice(-last);
  return [
    `⚠ ${refused.length} decision(s) REFUSED by the deploy${refused.length > shown.length ? ` (the last ${shown.length})` : ''}:`,
    ...shown.map((e) => `  ${formatTime(e.at)}  ${oneLine(e.event, 160)}${e.detail ? ` — ${oneLine(e.detail)}` : ''}`),
  ];
}

/** Where a blueGreen or canary rollout is: the step and each release's share of traffic. */
export function trafficLines(t: TrafficState): string[] {
  const step = t.strategy === 'canary' ? `step ${t.step}/${t.steps}${t.current ? ` (${oneLine(t.current, 64)})` : ''}` : t.current ? oneLine(t.current, 64) : '';
  const stable = t.stable && t.stable !== t.releaseId ? `, ${oneLine(t.stable, 80)} ${100 - t.weight}%` : '';
  return [`traffic (${t.strategy}${step ? `, ${step}` : ''}): ${oneLine(t.releaseId, 80)} ${t.weight}% on port ${t.port}${stable}`];
}

/**
 * A fleet rollout: updated/total and failed, then a table of its hosts (at most `maxRows`, the ones that
 * need a look first: failed, then in progress, then the rest in rollout order).
 */
export function hostTableLines(f: FleetProgress, maxRows = 40): string[] {
  const lines = [
    `hosts: ${f.updated}/${f.total} updated, ${f.failed} failed${f.rolledBack ? `, ${f.rolledBack} rolled back` : ''} — batch ${f.batch}/${f.batches} (${f.batchSize} at a time, at most ${f.maxFailedHosts} failed)`,
  ];
  const rank = (s: string) => (s === 'failed' || s === 'rollback_failed' ? 0 : s === 'deploying' || s === 'rolling_back' ? 1 : 2);
  const rows = [...f.hosts].sort((a, b) => rank(a.status) - rank(b.status)).slice(0, maxRows);
  const width = Math.max(4, ...rows.map((h) => oneLine(h.host, 63).length));
  lines.push(`  ${'HOST'.padEnd(width)}  ${'BATCH'.padEnd(5)}  ${'STATUS'.padEnd(15)}  RELEASE / ERROR`);
  for (const h of rows) {
    const what = h.error ? oneLine(h.error, 160) : h.releaseId ? oneLine(h.releaseId, 80) : '';
    lines.push(`  ${oneLine(h.host, 63).padEnd(width)}  ${String(h.batch).padEnd(5)}  ${oneLine(h.status, 20).padEnd(15)}  ${what}`);
  }
  if (f.hosts.length > rows.length) lines.push(`  … and ${f.hosts.length - rows.length} more host(s) (deployctl status --json lists all)`);
  return lines;
}

/** The status query, rendered for a person: where it is, what it waits for, how it got there. */
export function renderStatusView(v: DeployStatusView, o: { timelineTail?: number; now?: number } = {}): string[] {
  const lines: string[] = [];
  const service = v.service ? oneLine(v.service, 64) : undefined;
  const environment = v.environment ? oneLine(v.environment, 64) : undefined;
  const what = v.action
    ? `${oneLine(v.action, 20)} ${service ?? oneLine(v.workflowId)}${v.version ? ` ${oneLine(v.version, 64)}` : ''}${environment ? ` in ${environment}` : ''}`
    : service
      ? `${service} ${oneLine(v.version ?? '?', 64)} → ${environment}`
      : oneLine(v.workflowId);
  lines.push(
    `${what}: ${oneLine(v.status, 40)} (stage ${oneLine(v.stage, 64)})${v.requestedBy ? `, requested by ${oneLine(v.requestedBy, 64)}` : ''}${v.previousVersion ? `, replacing ${oneLine(v.previousVersion, 64)}` : ''}`,
  );
  if (v.waitingFor) lines.push(`waiting for: ${oneLine(v.waitingFor)}`);
  lines.push(...refusalLines(v.timeline));
  if (v.stages.length) lines.push('stages:', ...stageRows(v.stages, o.now));
  if (v.traffic) lines.push(...trafficLines(v.traffic));
  if (v.fleet) lines.push(...hostTableLines(v.fleet));
  if (v.pendingGate) lines.push(...gateLines(v.pendingGate, { service, environment }));
  const pp = v.pendingPromotion;
  if (pp) {
    lines.push(
      `paused at ${oneLine(pp.stage, 64)} since ${formatTime(pp.since)} until ${formatTime(pp.deadline)}: waiting for promote from ${pp.promoters.map((x) => oneLine(x, 64)).join(' or ')}${pp.signed ? ' (signed)' : ''}`,
      `  promote with: deployctl promote ${service ?? '<service>'} --env ${environment ?? '<env>'} --by <you>${pp.signed ? ' --key <your private key>' : ''}   (or stop it: deployctl reject …)`,
    );
  }
  const pi = v.pendingIntervention;
  if (pi) {
    const who = pi.operators?.length ? ` (operators: ${pi.operators.map((x) => oneLine(x, 64)).join(', ')}${pi.signed ? '; signed' : ''})` : '';
    lines.push(
      `needs intervention since ${formatTime(pi.since)}: ${oneLine(pi.compensation, 64)} failed — ${oneLine(pi.error)}`,
      `  decide with: deployctl intervene ${service ?? '<service>'} --env ${environment ?? '<env>'} --by <you> --action retry|skip|abort${pi.signed ? ' --key <your private key>' : ''}${who}`,
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
  // A deploy refused at plan has no service, version or environment of its own: name its workflow instead.
  const what = !r.service
    ? `${oneLine(r.workflowId, 200)} (refused before a plan existed)`
    : r.action
      ? `${oneLine(r.action, 20)} ${oneLine(r.service, 64)}${r.version ? ` ${oneLine(r.version, 64)}` : ''} in ${oneLine(r.environment, 64)}`
      : `${oneLine(r.service, 64)} ${oneLine(r.version, 64)} → ${oneLine(r.environment, 64)}`;
  const lines = [
    `${what}: ${oneLine(r.outcome, 40)}${total !== undefined ? ` after ${formatDuration(total)}` : ''}${r.previousVersion ? ` (previous: ${oneLine(r.previousVersion, 64)})` : ''}`,
  ];
  if (r.reason) lines.push(`reason: ${oneLine(r.reason)}`);
  if (r.artifactSha256) lines.push(`artifact: sha256 ${oneLine(r.artifactSha256, 64)}`);
  lines.push(...refusalLines(r.timeline));
  if (r.stages.length) lines.push('stages:', ...stageRows(r.stages));
  if (r.fleet) lines.push(...hostTableLines(r.fleet));
  if (r.approvals.length) lines.push('approvals:', ...r.approvals.flatMap((a) => decisionLines(`  ${approvalText(a)}`, a.signature, undefined)));
  if (r.compensations.length) {
    lines.push('compensations:', ...r.compensations.flatMap((c) => (c.by ? decisionLines(`  ${compensationLine(c)}`, c.signature, undefined) : [`  ${compensationLine(c)}`])));
  }
  const tail = r.timeline.slice(-(o.timelineTail ?? 0));
  if (o.timelineTail && tail.length) lines.push(`timeline (last ${tail.length} of ${r.timeline.length}):`, ...tail.map((e) => `  ${timelineLine(e)}`));
  return lines;
}

/** Payload text on one line (see safeText), cut to `max` characters. */
export function oneLine(s: string, max = 300): string {
  const flat = safeText(s).replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
