import path from 'node:path';
import { REQUEST_MAX_AGE_MS } from '../activities/plan';
import { resolvePlan } from '../spec/load';
import type { DeploySpec } from '../spec/schema';
import { describeTarget } from '../targets/registry';
import { describeCanaryStep } from '../workflows/canary-steps';
import type { DeployPlan, GatePlan } from '../workflows/types';
import { deployctl, temporalCli, type CommandNames, type SignedMessages } from './commands';
import { DEPLOY_STATUSES } from './statuses';

export interface RunbookInput {
  /** The validated spec (deploySpecSchema output). */
  spec: DeploySpec;
  environment: string;
  /** The spec path exactly as operators pass it (the worker resolves it against its working directory). */
  specPath: string;
  taskQueue: string;
  /** Example values for the shell variables at the top; empty means "set it before you run anything". */
  examples?: { version?: string; previous?: string; knownBad?: string };
}

/**
 * The runbook of one service in one environment, as Markdown. A pure function of the validated spec (and
 * the names the worker uses): the stages, checks, thresholds and approvers are read from the same plan the
 * workflow runs, so regenerating it after a spec change is all it takes to keep it true.
 */
export function renderRunbook(r: RunbookInput): string {
  const { spec, environment } = r;
  const env = spec.environments[environment];
  if (!env) throw new Error(`environment "${environment}" is not in the spec; environments: ${Object.keys(spec.environments).join(', ')}`);
  const plan = planFor(spec, environment, r.specPath);
  const names: CommandNames = { service: spec.service, environment, specPath: r.specPath, taskQueue: r.taskQueue };
  const signed: SignedMessages = {
    requests: plan.gates.some((g) => g.signed),
    decisions: plan.gates.some((g) => g.signed),
    interventions: Boolean(plan.intervention?.signed),
  };
  const signsAnything = signed.requests || signed.decisions || signed.interventions;
  const ctl = deployctl(names, signed);
  const tcli = temporalCli(names);
  const h = plan.health;
  const gates = plan.gates;
  const gated = gates.length > 0;
  const allowedSigners = spec.trust ? path.posix.join(path.posix.dirname(r.specPath), spec.trust.allowedSigners) : undefined;
  const rehearsalEnv = spec.environments.staging ? 'staging' : environment;
  const rehearsalPlan = planFor(spec, rehearsalEnv, r.specPath);
  const rctl = deployctl({ ...names, environment: rehearsalEnv });
  const rcli = temporalCli({ ...names, environment: rehearsalEnv });
  const ex = r.examples ?? {};

  const out: string[] = [];
  const p = (...lines: string[]) => out.push(...lines);
  const sh = (...cmds: string[]) => p('```sh', ...cmds, '```', '');

  p(
    `# Runbook: ${spec.service} in ${environment}`,
    '',
    `Generated from \`${r.specPath}\` by \`${ctl.runbook()}\`. Do not edit by hand: change the spec and`,
    'generate it again, so this page always says what the deploy really does.',
    '',
    '| | |',
    '|---|---|',
    `| service | \`${spec.service}\` |`,
    `| environment | \`${environment}\` |`,
    `| workflow ID (the deploy lock: one deploy at a time) | \`${tcli.workflowId}\` |`,
    `| workflow type / task queue | \`deployRelease\` / \`${r.taskQueue}\` |`,
    `| versions | tags or commits of the source repository \`${spec.source.repository}\` |`,
    `| target | ${describeTarget(plan.target, plan.dataDir).summary} |`,
    `| approval | ${gated ? gates.map(gateSummary).join('; ') : 'none: a deploy runs straight through'} |`,
    '',
    '## Before you start',
    '',
    'deployctl and the `temporal` CLI read the same environment as the worker. Set the variables the commands',
    'below use (`ME` is recorded as the requester or approver; the requester may not approve their own deploy).',
    ...(signsAnything
      ? [
          `In \`${environment}\` requests and decisions are signed: \`KEY\` is your SSH private key (or its \`.pub\` when the key`,
          `is loaded in ssh-agent), listed for \`ME\` in \`${allowedSigners ?? 'the spec\'s trust.allowedSigners'}\`. See docs/signed-decisions.md.`,
        ]
      : []),
    '',
  );
  sh(
    'export TEMPORAL_ADDRESS=127.0.0.1:7233 TEMPORAL_NAMESPACE=default   # where the worker runs',
    'export DEPLOY_DATABASE_URL=postgres://postgres@127.0.0.1:5432/deployer   # the release registry (history, rollback)',
    'ME="$USER"',
    ...(signsAnything ? ['KEY=~/.ssh/id_ed25519   # your signing key (ed25519), as listed in allowed_signers'] : []),
    `VERSION=${ex.version ?? ''}        # the release to ship: a tag or commit of ${spec.source.repository}`,
    `PREVIOUS=${ex.previous ?? ''}       # a version that was live here before (for a rollback with --to)`,
  );

  // ---- stages ----
  p('## What a deploy does', '', 'The stages run in this order. A failure before `migrate` changes nothing; a failure from `migrate` on rolls the deploy back.', '');
  const stageText = stageDescriptions(spec, environment, plan);
  let n = 1;
  for (const stage of ['build', 'preChecks', 'migrate', 'deploy', 'validate'] as const) {
    const g = gates.find((x) => x.before === stage);
    const gateNote = g
      ? `*First the approval gate: the deploy waits (status \`awaiting_approval\`) for ${g.quorum} approval${g.quorum === 1 ? '' : 's'} from ${g.approvers.length ? g.approvers.join(' or ') : 'any approver'}${g.requesterMayApprove ? '' : ' (never the requester)'}, at most ${formatMinutes(g.timeoutMs)}; see [Approve or reject](#approve-or-reject).* Then it `
      : '';
    p(`${n++}. **\`${stage}\`** — ${gateNote}${stageText[stage]}`);
  }
  p('', `Finally \`recordRelease\` writes the outcome, approvals and health summary to the release registry.`, '');

  // ---- thresholds ----
  p(
    '## Health thresholds',
    '',
    `\`validate\` probes \`${h.url}\` and decides from the samples (same numbers as the plan in the workflow history):`,
    '',
    '| threshold | value |',
    '|---|---|',
    `| probe interval | ${h.intervalMs} ms |`,
    `| analysis window | ${h.windowMs} ms (at most ${Math.ceil(h.windowMs / h.intervalMs)} probes) |`,
    `| probe timeout | ${h.requestTimeoutMs} ms |`,
    `| pass: consecutive successes | ${h.consecutiveSuccesses} |`,
    `| pass: minimum success ratio | ${h.minSuccessRatio} (${Math.round(h.minSuccessRatio * 1000) / 10}% of probes) |`,
    `| pass: maximum p95 latency | ${h.maxP95LatencyMs} ms |`,
    `| fail fast: consecutive failures | ${h.maxConsecutiveFailures} |`,
    '',
    `It passes as soon as the last ${h.consecutiveSuccesses} probes succeeded in a row, the success ratio is at least ${h.minSuccessRatio}`,
    `and p95 is at most ${h.maxP95LatencyMs} ms. ${h.maxConsecutiveFailures} failures in a row, or a window that ends without a pass,`,
    'fail it: the deploy rolls back by itself (`rollbackDeploy`) and ends `rolled_back`. The samples summary',
    '(counts, p50/p95, first failure) is in the result.',
    '',
  );

  // ---- gates ----
  p('## Gates and approvers', '');
  if (!gated) {
    p(`\`${environment}\` has no approval gate. \`approve\`/\`reject\` are refused with "no approval gate is waiting".`, '');
  } else {
    p('| before stage | approvers | approvals needed | requester may approve | decide within |', '|---|---|---|---|---|');
    for (const g of gates) {
      p(`| \`${g.before}\` | ${g.approvers.length ? g.approvers.join(', ') : 'anyone named, except the requester'} | ${g.quorum} | ${g.requesterMayApprove ? 'yes' : 'no'} | ${formatMinutes(g.timeoutMs)} (then rejected) |`);
    }
    p('');
  }

  // ---- deploy ----
  p('## Deploy', '', 'With deployctl (checks the input locally first, prints the Web UI link, follows to the end):', '');
  sh(ctl.deploy());
  p(
    'Exit codes with `--follow`: 0 succeeded, 10 rolled_back, 11 rejected, 12 failed, 13 cancelled, 14 needs_intervention;',
    '3 when another deploy of this service to this environment is running. Ctrl-C stops following only.',
    '',
    ...(signed.requests
      ? [
          `With the Temporal CLI: the request must carry \`ME\`'s signature and the time it was signed (accepted for ${REQUEST_MAX_AGE_MS / 60_000}`,
          'minutes), so let deployctl sign it and print the `temporal workflow start` command to paste:',
        ]
      : ['With the Temporal CLI (the workflow ID must be exactly this one: it is the lock):']),
    '',
  );
  sh(signed.requests ? ctl.deployPrint() : tcli.start());

  // ---- follow ----
  p('## Follow and inspect', '');
  sh(ctl.status(), tcli.query(), tcli.describe(), tcli.result(), tcli.show());
  p('`status` shows the stage, what the deploy waits for, the pending gate and the timeline. `show --output json` is the', 'full event history (the plan that ran is the `plan` activity result).', '');

  // ---- approve ----
  p('## Approve or reject', '');
  if (!gated) {
    p(`No gate in \`${environment}\`: nothing to approve.`, '');
  } else {
    const who = gates.flatMap((g) => g.approvers);
    p(
      `\`ME\` must be ${who.length ? `one of ${[...new Set(who)].join(', ')}` : 'an approver'}${gates.some((g) => !g.requesterMayApprove) ? ', and not the requester' : ''}.`,
      'Prefer the `approval` update: a refused decision comes back to you with its reason (non-zero exit).',
      ...(signed.decisions
        ? ['Decisions are signed with `KEY`. For the Temporal CLI, `--print-update` (the update) or `--print` (the signal)', 'prints the signed command to paste.']
        : []),
      '',
    );
    sh(...(signed.decisions ? [ctl.approve(), ctl.approvePrint('update'), ctl.approvePrint('signal')] : [ctl.approve(), tcli.approveUpdate(), tcli.approveSignal()]));
    p('Reject (the deploy stops, undoes anything it changed and ends `rejected`):', '');
    sh(...(signed.decisions ? [ctl.reject(), ctl.rejectPrint('update'), ctl.rejectPrint('signal')] : [ctl.reject(), tcli.rejectUpdate(), tcli.rejectSignal()]));
    p(
      'A refused signal is not an error for the CLI: it is recorded in the status timeline as `signal_refused`, and',
      `\`deployctl status\` lists the refused decisions with who and why${signed.decisions ? ' (an unsigned `{"by":"…"}` signal is refused at this gate)' : ''}.`,
      '',
    );
  }

  // ---- promote ----
  const strategy = plan.strategy;
  if (strategy && strategy.type !== 'replace') {
    p('## Traffic', '', `Strategy: **${strategy.type}**.`, '', ...strategyText(strategy, plan.target.type === 'local' ? plan.target.port : undefined), '');
    sh(ctl.status());
    if (strategy.promoters.length > 0) {
      p(`Promote a paused rollout (\`ME\` must be one of ${strategy.promoters.join(', ')}${strategy.signed ? '; signed with `KEY`' : ''}); reject it to send all traffic back to the stable release:`, '');
      sh(ctl.promote(strategy.signed), ctl.promotePrint(strategy.signed), ctl.reject());
    }
  }

  // ---- the target kind's own section (a fleet's hosts and agents) ----
  const own = describeTarget(plan.target, plan.dataDir, { workflowId: tcli.workflowId }).runbookSection;
  if (own) {
    p(`## ${own.title}`, '', ...own.text, '');
    sh(...own.commands);
    if (own.after?.length) p(...own.after, '');
  }

  // ---- list ----
  p('## List deploys', '');
  sh(ctl.history(), tcli.list(), tcli.list('rolled_back'), tcli.list('awaiting_approval'), tcli.listVersion('$VERSION'));
  p(`DeployStatus is one of: ${DEPLOY_STATUSES.map((s) => `\`${s}\``).join(', ')}.`, '');

  // ---- cancel ----
  p(
    '## Cancel',
    '',
    'Cancelling runs the compensations (a release already deployed is rolled back to the previous one), records',
    'the outcome and ends the workflow `cancelled`. Expand migrations stay: they are compatible with the previous release.',
    '',
  );
  sh(tcli.cancel());

  // ---- rollback ----
  p(
    '## Roll back',
    '',
    'Automatic: a failed `deploy` or `validate` rolls back to the release that was current before (`rollbackDeploy`), and',
    'the registry makes it live again.',
    '',
    'On demand, to the release that was live before the current one (or `--to` a version that was live here).',
    'The stored artifact is reused (no rebuild), the plan is marked `rollback`, pre-checks and health analysis run',
    `as for any deploy${gated ? ', and the approval gate still applies' : ''}. A version older than an applied contract migration is refused.`,
    '',
  );
  if (strategy && strategy.type !== 'replace') {
    p(
      `Behind the front door a rollback is a switch while the previous release still runs (it stays up, drained, for ${strategy.scaleDownDelayMs / 1000} s`,
      'after a switch): no process starts, and all requests go back to it at once. Later, the previous release is started again beside the',
      'current one and switched to after its analysis.',
      '',
    );
  }
  sh(ctl.rollback(), ctl.rollbackTo());
  p('With the Temporal CLI: start the previous version like any deploy.', '');
  sh(signed.requests ? ctl.deployPrint('"$PREVIOUS"') : tcli.start('$PREVIOUS'));

  // ---- needs_intervention ----
  p(
    '## needs_intervention',
    '',
    'What it means: a deploy was being undone and a compensation (`rollbackDeploy`) failed even after its retries.',
    'The deploy keeps the lock, shows status `needs_intervention` and waits for an operator; the environment may',
    'run either release. Nothing happens until someone decides.',
    '',
    'Inspect: the status names the failed step and its error; the history has every attempt.',
    '',
  );
  sh(ctl.status(), tcli.query(), tcli.show(), ...describeTarget(plan.target, plan.dataDir).inspectCommands);
  const operators = plan.intervention?.operators ?? [];
  p(
    `Then decide, as yourself${operators.length ? ` (one of ${operators.join(', ')})` : ''}${signed.interventions ? ', signed with `KEY`' : ''}:`,
    ...(signed.interventions ? ['(`--print` prints the signed `temporal workflow signal` to paste instead of sending it)'] : []),
    '',
    '- **retry** — after fixing the cause (disk, permissions, the target is back): runs the failed step again.',
  );
  const intervene = (action: 'retry' | 'skip' | 'abort', comment: string) =>
    sh(ctl.intervene(action, comment), signed.interventions ? ctl.intervenePrint(action, comment) : tcli.intervene(action));
  intervene('retry', 'freed disk on the target');
  p('- **skip** — you restored the previous release by hand: carry on as if the step had succeeded.');
  intervene('skip', 'restored the previous release by hand');
  p('- **abort** — stop here: the deploy ends `failed`, the rollback incomplete; fix the environment by hand.');
  intervene('abort', 'handing over to the on-call');

  // ---- rehearsal ----
  p(
    `## Rehearse a rollback in ${rehearsalEnv} with a known-bad release`,
    '',
    `Do this before trusting the automatic rollback in ${environment === rehearsalEnv ? 'this environment' : environment}. You need a release that passes the`,
    `pre-checks and deploys but fails the health thresholds (e.g. its \`${pathOf(rehearsalPlan.health.url)}\` answers 503).`,
    '',
  );
  sh(`BAD_VERSION=${ex.knownBad ?? ''}     # a release known to fail its health thresholds`);
  p(`1. A good release is live in ${rehearsalEnv} (exit code 0):`, '');
  sh(rctl.deploy());
  p('2. Deploy the known-bad release; expect exit code 10 (`rolled_back`):', '');
  sh(rctl.deploy('"$BAD_VERSION"'));
  p(
    `3. Check that the good release answers again and that the audit says why: \`rollbackDeploy\` succeeded, the health`,
    `   summary shows the failing probes, the registry has \`$BAD_VERSION\` as rolled_back and \`$VERSION\` live.`,
    '',
  );
  sh(`curl -fsS ${rehearsalPlan.health.url}`, rctl.status(), `npx deployctl history ${spec.service} --env ${rehearsalEnv} --limit 5`, rcli.list('rolled_back'));
  p('4. Roll back on demand once as well, and watch it succeed:', '');
  sh(rctl.rollback());
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

/** The plan the workflow would run (gates and merged health numbers), resolved from the spec alone. */
function planFor(spec: DeploySpec, environment: string, specPath: string) {
  return resolvePlan({
    spec,
    specSource: specPath,
    specSha256: '',
    input: { spec: specPath, environment, version: 'runbook', requestedBy: 'runbook' },
    cwd: '/',
    dataDir: '.data',
    live: null,
    previouslyLive: false,
    // The runbook shows paths as the spec writes them (relative to the worker's working directory).
    resolvePath: (p) => p,
  });
}

function stageDescriptions(spec: DeploySpec, environment: string, plan: DeployPlan): Record<'build' | 'preChecks' | 'migrate' | 'deploy' | 'validate', string> {
  const env = spec.environments[environment]!;
  const required = [...new Set([...spec.runtime.requiredConfig, ...(env.database ? [env.database.urlFromConfig] : [])])].sort();
  const deps = env.dependencies ?? [];
  const h = plan.health;
  return {
    build: spec.build
      ? `checks out the version in a clean directory, runs \`${spec.build.command.join(' ')}\` (timeout ${spec.build.timeoutMs} ms) and packs ${spec.build.outputs.map((o) => `\`${o}\``).join(', ')} into a reproducible bundle with a manifest (same source → same sha256). Artifacts are content-addressed and immutable: a version rebuilt with different bytes is refused; a rollback reuses the stored one.`
      : 'packs the checked-out version into a reproducible bundle with a manifest; artifacts are immutable and reused on rollback.',
    preChecks: [
      `changes nothing and reports every failing check at once:`,
      env.config
        ? `required config ${required.map((c) => `\`${c}\``).join(', ') || '(none)'} present in \`${env.config.envFile}\` (values never leave the worker);`
        : 'no runtime config source (the service needs no configuration);',
      env.database ? `the database from \`${env.database.urlFromConfig}\` answers and its migration ledger matches the release;` : 'no database configured;',
      deps.length ? `dependencies reachable: ${deps.map((d) => `${d.name} (${'tcp' in d ? `tcp ${d.tcp}` : `http ${d.http}`})`).join(', ')};` : 'no declared dependencies;',
      `at least ${spec.preChecks.minFreeDiskMb} MB free on the target;`,
      `the current release is running and ready at \`${h.url}\` (or this is the first deploy, or a rollback).`,
    ].join(' '),
    migrate: !env.database
      ? 'nothing: this environment names no database (`database.urlFromConfig`), so there are no migrations to run.'
      : `lints the migrations in the release's \`${spec.migrations.directory}/\` directory first (\`npx deployctl lint-migrations\`), then applies the pending \`expand\` ones under one \`pg_advisory_lock\`, each recorded in the ledger with its checksum, with lock_timeout ${spec.migrations.lockTimeoutMs} ms and statement_timeout ${spec.migrations.statementTimeoutMs} ms. \`contract\` migrations run only once the live release ships them too.`,
    deploy: describeTarget(plan.target, plan.dataDir).deployStage,
    validate: `health analysis of \`${h.url}\`: ${h.consecutiveSuccesses} consecutive successes, success ratio ≥ ${h.minSuccessRatio}, p95 ≤ ${h.maxP95LatencyMs} ms within ${h.windowMs} ms; ${h.maxConsecutiveFailures} failures in a row roll the deploy back (see [Health thresholds](#health-thresholds)).`,
  };
}

/** What the strategy does, for the runbook. */
function strategyText(s: Exclude<NonNullable<DeployPlan['strategy']>, { type: 'replace' }>, publicPort: number | undefined): string[] {
  const door = `An HAProxy front door serves the public port${publicPort ? ` ${publicPort}` : ''}; each release listens on an internal port of its own, and every switch goes through HAProxy's Runtime API (no reload).`;
  if (s.type === 'blueGreen') {
    return [
      door,
      `A new release starts beside the current one and takes no request${s.previewAnalysis ? ' while the health analysis judges it on its own port' : ''}.`,
      s.pauseForPromote ? `Then the deploy pauses (status \`awaiting_approval\`) until one of ${s.promoters.join(', ')} promotes it${s.signed ? ' with a signed decision' : ''}, at most ${formatMinutes(s.promoteTimeoutMs)}.` : '',
      `The switch moves all new requests at once; the replaced release drains and is stopped ${s.scaleDownDelayMs / 1000} s after the deploy succeeded.`,
    ].filter(Boolean);
  }
  return [
    door,
    'A new release starts beside the current one, then takes traffic step by step:',
    '',
    ...s.steps.map((step, i) => `${i + 1}. ${describeCanaryStep(step)}${'pause' in step && step.pause.seconds === undefined ? ` (one of ${s.promoters.join(', ')} promotes${s.signed ? ', signed' : ''})` : ''}`),
    `${s.steps.length + 1}. all traffic; the replaced release drains and is stopped ${s.scaleDownDelayMs / 1000} s after the deploy succeeded.`,
    '',
    'A failed analysis, a reject or a cancel gives the stable release all traffic back at once (a switch, no restart).',
    '`deployctl status` shows the step and each release\'s share.',
  ];
}

function gateSummary(g: GatePlan): string {
  const who = g.approvers.length ? g.approvers.join(' or ') : 'any approver';
  return `before \`${g.before}\`: ${g.quorum} approval${g.quorum === 1 ? '' : 's'} from ${who}${g.requesterMayApprove ? '' : ', never the requester'}, within ${formatMinutes(g.timeoutMs)}`;
}

function formatMinutes(ms: number): string {
  const min = Math.round(ms / 60_000);
  return min % 1440 === 0 ? `${min / 1440} day${min === 1440 ? '' : 's'}` : min % 60 === 0 ? `${min / 60} h` : `${min} min`;
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
