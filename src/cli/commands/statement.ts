import type { Command } from 'commander';
import { REQUEST_MAX_AGE_MS } from '../../activities/plan';
import { decisionStatementFor, deployRequestStatement } from '../../client/signing';
import { deployWorkflowId } from '../../names';
import { describeDecisionStatement, describeRequestStatement, parseRequestedAt, SIGNATURE_NAMESPACE, type SignedDecision } from '../../trust/statement';
import type { CliContext } from '../context';
import { firstLine } from '../context';
import { attr, describeDeploy, isRunning, queryStatus } from '../deploy-state';
import { CliError, usageError } from '../errors';
import { ExitCode } from '../exit-codes';
import { formatTime, oneLine } from '../format';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { checkEnvironment, checkPersonOrDefault, checkService, checkVersion, showValue } from '../validate';
import { gatesOf, loadSpecForEnvironment } from './deploy';

/** The decisions a statement can be printed for: what a waiting gate or intervention takes. */
const DECISIONS = ['approve', 'reject', 'intervene:retry', 'intervene:skip', 'intervene:abort', 'promote'] as const satisfies readonly SignedDecision[];
type StatementDecision = (typeof DECISIONS)[number];

type StatementRequest =
  | { kind: 'decision'; service: string; environment: string; decision: StatementDecision; by: string }
  | { kind: 'request'; service: string; environment: string; version: string; spec: string; by: string; requestedAt: string };

/**
 * The exact bytes to sign, on stdout and nothing else, for anyone signing with ssh-keygen on another
 * machine. What they mean and how to sign them go to stderr.
 */
async function statement(ctx: CliContext, r: StatementRequest, cwd: string): Promise<number> {
  const { text, description, extra } = r.kind === 'decision' ? await decisionStatement(ctx, r) : await requestStatement(ctx, r, cwd);
  if (ctx.json) {
    ctx.io.out(JSON.stringify({ kind: r.kind, ...extra, statement: text, description, namespace: SIGNATURE_NAMESPACE }));
    return ExitCode.ok;
  }
  if (ctx.io.write) ctx.io.write(text);
  else ctx.io.out(text.replace(/\n$/, ''));
  ctx.io.err(`this statement says: ${description}`);
  ctx.io.err(`sign it (saved as statement.txt): ssh-keygen -Y sign -n ${SIGNATURE_NAMESPACE} -f <your private key> statement.txt   → statement.txt.sig is the "signature"`);
  return ExitCode.ok;
}

async function decisionStatement(ctx: CliContext, r: Extract<StatementRequest, { kind: 'decision' }>) {
  const { handle: latest, description } = await describeDeploy(ctx, r.service, r.environment);
  if (!isRunning(description)) {
    throw new CliError(
      `no deploy of ${r.service} to ${r.environment} is running (the last one ended ${attr(description, 'status') ?? description.status.name.toLowerCase()}); there is nothing to sign`,
      ExitCode.notFound,
    );
  }
  const handle = (await ctx.temporal()).workflow.getHandle(latest.workflowId, description.runId);
  const view = await queryStatus(ctx, handle);
  if (!view) throw new CliError(`the deploy did not answer its status query: is a worker polling task queue "${ctx.config.DEPLOY_TASK_QUEUE}"?`, ExitCode.unreachable);
  const intervention = r.decision.startsWith('intervene:');
  const atPause = r.decision === 'promote' || (r.decision === 'reject' && !(view.pendingGate && !view.pendingGate.decision) && view.pendingPromotion !== undefined);
  const waiting = intervention ? view.pendingIntervention : atPause ? view.pendingPromotion : view.pendingGate && !view.pendingGate.decision ? view.pendingGate : undefined;
  if (!waiting) {
    throw new CliError(
      `the deploy is not waiting for ${intervention ? 'an intervention' : 'an approval decision'} (status ${oneLine(view.status, 40)}, stage ${oneLine(view.stage, 64)}); there is nothing to sign. See: deployctl status ${r.service} --env ${r.environment}`,
      ExitCode.refused,
    );
  }
  if (!waiting.signed || !waiting.sign) {
    throw new CliError(`the deploy does not take signed ${intervention ? 'interventions' : 'decisions'} here, so there is nothing to sign; decide without a signature (deployctl ${intervention ? 'intervene' : r.decision} --help)`, ExitCode.refused);
  }
  try {
    return {
      text: decisionStatementFor(waiting.sign, r.decision, r.by),
      description: describeDecisionStatement({ ...waiting.sign, decision: r.decision, signer: r.by }),
      extra: { workflowId: handle.workflowId, runId: description.runId, decision: r.decision, signer: r.by },
    };
  } catch (err) {
    throw new CliError(`cannot build the statement from the deploy's status: ${firstLine(err)}`, ExitCode.error);
  }
}

async function requestStatement(ctx: CliContext, r: Extract<StatementRequest, { kind: 'request' }>, cwd: string) {
  const spec = await loadSpecForEnvironment(r.spec, r.environment, cwd);
  if (spec.service !== r.service) throw usageError(`--spec: ${r.spec} describes ${spec.service}, not ${r.service}; give the spec of ${r.service}`);
  const input = { spec: r.spec, environment: r.environment, version: r.version, requestedBy: r.by };
  if (!gatesOf(spec, input).some((g) => g.signed)) ctx.io.err(`note: ${r.environment} has no signed gate, so a deploy there needs no signed request`);
  const workflowId = deployWorkflowId(spec.service, r.environment);
  try {
    const { statement: text } = deployRequestStatement(input, workflowId, spec.service, r.requestedAt);
    const until = formatTime(new Date(Date.parse(r.requestedAt) + REQUEST_MAX_AGE_MS));
    if (!ctx.json) ctx.io.err(`start the deploy by ${until} with "requestedAt":"${r.requestedAt}" and the signature in its input`);
    return {
      text,
      description: describeRequestStatement({ workflowId, service: spec.service, environment: r.environment, version: r.version, spec: r.spec, requestedBy: r.by, requestedAt: r.requestedAt }),
      extra: { workflowId, requestedBy: r.by, requestedAt: r.requestedAt, acceptedUntil: until },
    };
  } catch (err) {
    throw usageError(`the request statement cannot be built: ${firstLine(err)}`);
  }
}

function nowWholeSeconds(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

const statementSpec = (cwd: string): CommandSpec<StatementRequest> => ({
  parse([service], opts, p) {
    const base = {
      service: checkService(service, 'statement'),
      environment: checkEnvironment(opts.env, 'statement'),
      by: checkPersonOrDefault(opts.by, p.env, 'statement'),
    };
    if (opts.request) {
      if (opts.decision !== undefined) throw usageError('--decision and --request: a statement is of a decision or of a deploy request, not both (see deployctl statement --help)');
      if (opts.version === undefined) throw usageError('--version: required with --request, e.g. --version 1.1.0 (see deployctl statement --help)');
      if (typeof opts.spec !== 'string' || !/\.(ya?ml|json)$/.test(opts.spec)) {
        throw usageError(`--spec: ${opts.spec === undefined ? 'required with --request' : `${showValue(String(opts.spec))} must be a .yaml, .yml or .json spec file`}, as the deploy input names it, e.g. --spec examples/hello-service/deploy.yaml (see deployctl statement --help)`);
      }
      const at = opts.at === undefined ? nowWholeSeconds() : String(opts.at);
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z$/.test(at) || parseRequestedAt(at) === undefined) {
        throw usageError(`--at: ${showValue(at)} must be an ISO 8601 UTC time such as 2026-05-01T12:00:00Z (default: now) (see deployctl statement --help)`);
      }
      return { kind: 'request', ...base, version: checkVersion(opts.version, 'statement'), spec: opts.spec, requestedAt: at };
    }
    for (const option of ['version', 'spec', 'at'] as const) {
      if (opts[option] !== undefined) throw usageError(`--${option}: only with --request (see deployctl statement --help)`);
    }
    if (!DECISIONS.includes(opts.decision as StatementDecision)) {
      throw usageError(
        `--decision: ${opts.decision === undefined ? 'required (or --request)' : `${showValue(String(opts.decision))} must be one of ${DECISIONS.join(', ')}`} (see deployctl statement --help)`,
      );
    }
    return { kind: 'decision', ...base, decision: opts.decision as StatementDecision };
  },
  execute: (ctx, r) => statement(ctx, r, cwd),
});

export function registerStatement(cmd: Command, p: ProgramOptions): Command {
  cmd
    .description('print the exact statement to sign for a decision at the waiting gate or intervention, or for a deploy request (to sign elsewhere with ssh-keygen)')
    .argument('<service>', 'service name from the spec, e.g. hello-service')
    .requiredOption('--env <environment>', 'environment of the deploy, e.g. production')
    .option('--decision <decision>', `the decision to sign: ${DECISIONS.join(', ')}`)
    .option('--by <name>', 'the signer, as named in allowed_signers (default: $USER, then the OS user name)')
    .option('--request', 'the statement of a deploy request instead (with --version and --spec)')
    .option('--version <version>', 'with --request: the version to deploy')
    .option('--spec <path>', 'with --request: the spec path exactly as the deploy input will name it')
    .option('--at <time>', 'with --request: requestedAt, ISO 8601 UTC (default: now)')
    .addHelpText(
      'after',
      `
stdout carries the statement's bytes and nothing else (what it means and how to sign go to stderr), so it
can be redirected to a file and signed on any machine with OpenSSH:

  deployctl statement hello-service --env production --decision approve --by alice > statement.txt
  ssh-keygen -Y sign -n deploy -f ~/.ssh/id_ed25519 statement.txt        # writes statement.txt.sig
  ssh-keygen -Y verify -f examples/hello-service/allowed_signers -I alice -n deploy -s statement.txt.sig < statement.txt

The content of statement.txt.sig is the decision's "signature" (a JSON string: line breaks as \\n). A
decision statement binds the deploy's run ID and artifact, read from the waiting gate or intervention, so
it is valid for that run only. A request statement carries its time (--at, default now): start the deploy
with that "requestedAt" within ${REQUEST_MAX_AGE_MS / 60_000} minutes.

  deployctl statement hello-service --env production --request --version 1.1.0 --by carol --spec examples/hello-service/deploy.yaml

The format is described in docs/signed-decisions.md. Exits 4 when nothing waits for that decision.`,
    );
  return bindAction(cmd, statementSpec(p.cwd), p);
}
