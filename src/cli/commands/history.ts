import type { Command } from 'commander';
import type { ReleaseRow } from '../../registry/registry';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import { UNDEPLOY_WORKFLOW_TYPE } from '../../workflows/undeploy-types';
import type { CliContext } from '../context';
import { isMissingTable } from '../context';
import { attr } from '../deploy-state';
import { ExitCode } from '../exit-codes';
import { formatDuration, formatTime, table } from '../format';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { checkEnvironment, checkLimit, checkService } from '../validate';

interface HistoryRequest {
  service: string;
  environment?: string;
  limit: number;
}

export interface HistoryEntry {
  workflowId: string;
  runId: string;
  environment: string;
  version: string;
  outcome: string;
  requestedBy: string;
  approvals: string[];
  startedAt: string;
  durationMs: number | null;
  live: boolean;
  registryStatus: string | null;
  /** Where the entry was found: history ages out of Temporal, the registry keeps every release. */
  source: 'visibility+registry' | 'visibility' | 'registry';
}

/**
 * Past deploys: Temporal visibility knows every run (including those that never reached the registry,
 * e.g. refused at plan); the registry knows approvals and what is live, and outlives history retention.
 */
async function history(ctx: CliContext, r: HistoryRequest): Promise<number> {
  const client = await ctx.temporal();
  // Names are validated (no quotes possible), so they can be placed in the query as they are.
  const query = `(WorkflowType = "${WORKFLOW_TYPE}" OR WorkflowType = "${UNDEPLOY_WORKFLOW_TYPE}") AND DeployService = "${r.service}"${r.environment ? ` AND DeployEnvironment = "${r.environment}"` : ''}`;
  const executions = [];
  for await (const e of client.workflow.list({ query, pageSize: Math.min(r.limit * 2, 1000) })) {
    executions.push(e);
    if (executions.length >= r.limit * 2) break;
  }

  let rows: ReleaseRow[] = [];
  let registryNote: string | undefined;
  try {
    rows = await (await ctx.registry()).history(r.service, r.environment, r.limit * 2);
  } catch (err) {
    if (!isMissingTable(err) && (err as { exitCode?: number }).exitCode !== ExitCode.notFound) throw err;
    registryNote = 'the release registry is empty (no worker has recorded a release in DEPLOY_DATABASE_URL yet)';
  }
  const byRun = new Map(rows.map((row) => [`${row.workflowId}/${row.runId}`, row]));

  const entries: HistoryEntry[] = executions.map((e) => {
    const row = byRun.get(`${e.workflowId}/${e.runId}`);
    byRun.delete(`${e.workflowId}/${e.runId}`);
    const approvals = (row?.approvals ?? []) as Array<{ by?: string }>;
    // A stop or undeploy: its outcome says what it did (its version is the release it stopped).
    const stopOutcome = e.type === UNDEPLOY_WORKFLOW_TYPE ? `${e.memo?.action === 'stop' ? 'stop' : 'undeploy'}: ${attr(e, 'status') ?? e.status.name.toLowerCase()}` : undefined;
    return {
      workflowId: e.workflowId,
      runId: e.runId,
      environment: attr(e, 'environment') ?? row?.environment ?? '?',
      version: attr(e, 'version') ?? row?.version ?? '?',
      outcome: stopOutcome ?? attr(e, 'status') ?? e.status.name.toLowerCase(),
      requestedBy: attr(e, 'requestedBy') ?? row?.requestedBy ?? '?',
      approvals: approvals.map((a) => a.by ?? '?'),
      startedAt: e.startTime.toISOString(),
      durationMs: e.closeTime ? e.closeTime.getTime() - e.startTime.getTime() : null,
      live: row?.status === 'live',
      registryStatus: row?.status ?? null,
      source: row ? 'visibility+registry' : 'visibility',
    };
  });
  for (const row of byRun.values()) {
    entries.push({
      workflowId: row.workflowId,
      runId: row.runId,
      environment: row.environment,
      version: row.version,
      outcome: row.status === 'live' || row.status === 'superseded' ? 'succeeded' : row.status,
      requestedBy: row.requestedBy,
      approvals: (row.approvals as Array<{ by?: string }>).map((a) => a.by ?? '?'),
      startedAt: row.createdAt.toISOString(),
      durationMs: null,
      live: row.status === 'live',
      registryStatus: row.status,
      source: 'registry',
    });
  }
  entries.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const shown = entries.slice(0, r.limit);

  if (ctx.json) {
    ctx.io.out(JSON.stringify({ service: r.service, environment: r.environment ?? null, deploys: shown, note: registryNote ?? null }));
    return ExitCode.ok;
  }
  if (shown.length === 0) {
    ctx.io.out(`no deploys of ${r.service}${r.environment ? ` to ${r.environment}` : ''} found (visibility query: ${query})`);
    return ExitCode.ok;
  }
  const lines = table(
    ['STARTED', 'ENV', 'VERSION', 'OUTCOME', 'BY', 'APPROVED BY', 'DURATION', 'LIVE'],
    shown.map((e) => [
      formatTime(e.startedAt),
      e.environment,
      e.version,
      e.outcome,
      e.requestedBy,
      e.approvals.join(',') || '-',
      e.durationMs === null ? (e.source === 'registry' ? '(history gone)' : 'running') : formatDuration(e.durationMs),
      e.live ? '● live' : e.registryStatus === 'superseded' || e.registryStatus === 'undeployed' ? e.registryStatus : '',
    ]),
  );
  for (const line of lines) ctx.io.out(line);
  if (registryNote) ctx.io.out(`note: ${registryNote}`);
  return ExitCode.ok;
}

const historySpec: CommandSpec<HistoryRequest> = {
  parse([service], opts) {
    return {
      service: checkService(service, 'history'),
      environment: opts.env === undefined ? undefined : checkEnvironment(opts.env, 'history'),
      limit: checkLimit(opts.limit ?? '20', 'history'),
    };
  },
  execute: history,
};

export function registerHistory(cmd: Command, p: ProgramOptions): Command {
  cmd
    .description('past deploys of a service (Temporal visibility joined with the release registry): version, outcome, who, approvals, duration, what is live')
    .argument('<service>', 'service name from the spec')
    .option('--env <environment>', 'only this environment')
    .option('--limit <n>', 'at most this many deploys, newest first', '20')
    .addHelpText(
      'after',
      `
Reads DEPLOY_DATABASE_URL (the orchestrator database) for approvals and the live release.

Example:
  deployctl history hello-service --env staging --limit 10
  temporal workflow list --query 'DeployService="hello-service" AND DeployEnvironment="staging"'`,
    );
  return bindAction(cmd, historySpec, p);
}
