import type { Command } from 'commander';
import type { ReleaseRow } from '../../registry/registry';
import { deployInputSchema } from '../../spec/schema';
import type { CliContext } from '../context';
import { isMissingTable } from '../context';
import { CliError, usageError } from '../errors';
import { ExitCode } from '../exit-codes';
import { formatTime } from '../format';
import { bindAction, type CommandSpec, type ProgramOptions } from '../program';
import { checkEnvironment, checkFreeText, checkKeyFile, checkPersonOrDefault, checkService, checkVersion } from '../validate';
import { loadSpecForEnvironment, signRequestIfNeeded, startAndReport } from './deploy';

interface RollbackRequest {
  service: string;
  environment: string;
  to?: string;
  spec: string;
  by: string;
  reason?: string;
  follow: boolean;
  key?: string;
}

export interface RollbackChoice {
  live: ReleaseRow;
  target: ReleaseRow;
}

/**
 * The release to go back to. Without --to: the most recent release that was live before the current one
 * and was superseded by a later deploy — "the previous live version". A version that never ran here is
 * refused: a rollback reuses a stored artifact that is known to have worked in this environment.
 */
export function chooseRollbackTarget(rows: ReleaseRow[], service: string, environment: string, to?: string): RollbackChoice {
  const live = rows.find((r) => r.status === 'live');
  if (!live) {
    throw new CliError(`nothing is live for ${service} in ${environment} according to the release registry; there is nothing to roll back. Deploy a version with: deployctl deploy <spec> --env ${environment} --version <v>`, ExitCode.notFound);
  }
  // Superseded = it went live, passed validation and was later replaced by a newer deploy. A release that
  // went live and was rolled back (failed its health analysis) is not a place to go back to.
  const wasLive = rows.filter((r) => r.liveAt !== null && r.status === 'superseded' && r.id !== live.id).sort((a, b) => b.liveAt!.getTime() - a.liveAt!.getTime());
  if (to !== undefined) {
    if (to === live.version) throw usageError(`--to: ${to} is already live in ${environment}; to restart it deploy it again with deployctl deploy`);
    const target = wasLive.find((r) => r.version === to);
    if (!target) {
      const known = [...new Set(wasLive.map((r) => r.version))].filter((v) => v !== live.version);
      throw usageError(
        `--to: ${to} never served ${service} in ${environment} (it was never live there, or it was rolled back), so there is no proven artifact to go back to${known.length ? ` (versions you can roll back to: ${known.join(', ')})` : ''}; ship a new version with deployctl deploy`,
      );
    }
    return { live, target };
  }
  const target = wasLive.find((r) => r.version !== live.version && r.liveAt!.getTime() <= live.liveAt!.getTime());
  if (!target) {
    throw new CliError(`no release of ${service} was live in ${environment} before ${live.version}; there is no previous version to roll back to (give one with --to)`, ExitCode.notFound);
  }
  return { live, target };
}

async function rollback(ctx: CliContext, r: RollbackRequest, cwd: string): Promise<number> {
  const spec = await loadSpecForEnvironment(r.spec, r.environment, cwd);
  if (spec.service !== r.service) throw usageError(`--spec: ${r.spec} describes ${spec.service}, not ${r.service}; give the spec of ${r.service}`);
  let rows: ReleaseRow[];
  try {
    rows = await (await ctx.registry()).history(r.service, r.environment, 500);
  } catch (err) {
    if (!isMissingTable(err)) throw err;
    rows = [];
  }
  const { live, target } = chooseRollbackTarget(rows, r.service, r.environment, r.to);
  const unsigned = deployInputSchema.parse({
    spec: r.spec,
    environment: r.environment,
    version: target.version,
    requestedBy: r.by,
    reason: r.reason ?? `rollback from ${live.version} to ${target.version}`,
  });
  const input = await signRequestIfNeeded(ctx, unsigned, spec, r.key, 'rollback');
  if (!ctx.json) {
    ctx.io.out(`rolling ${r.service} in ${r.environment} back: ${live.version} (live since ${formatTime(live.liveAt)}) → ${target.version} (live ${formatTime(target.liveAt)} – ${formatTime(target.endedAt)})`);
    ctx.io.out(
      `  the stored artifact ${target.artifactSha256 ? `sha256 ${target.artifactSha256.slice(0, 12)}… ` : ''}is reused (no rebuild); pre-checks run and refuse it if the schema has moved past it`,
    );
  }
  return startAndReport(ctx, input, spec, {
    follow: r.follow,
    cwd,
    verb: 'started rollback of',
    extra: { rollback: { from: live.version, to: target.version, artifactSha256: target.artifactSha256 } },
  });
}

const rollbackSpec = (cwd: string): CommandSpec<RollbackRequest> => ({
  parse([service], opts, p) {
    if (typeof opts.spec !== 'string' || !/\.(ya?ml|json)$/.test(opts.spec)) throw usageError(`--spec: ${JSON.stringify(opts.spec)} must be a .yaml, .yml or .json spec file (see deployctl rollback --help)`);
    return {
      service: checkService(service, 'rollback'),
      environment: checkEnvironment(opts.env, 'rollback'),
      to: opts.to === undefined ? undefined : checkVersion(opts.to, 'rollback', '--to'),
      spec: opts.spec,
      by: checkPersonOrDefault(opts.by, p.env, 'rollback'),
      reason: checkFreeText(opts.reason, '--reason', 'rollback'),
      follow: Boolean(opts.follow),
      key: checkKeyFile(opts.key, p.cwd, 'rollback'),
    };
  },
  execute: (ctx, r) => rollback(ctx, r, cwd),
});

export function registerRollback(cmd: Command, p: ProgramOptions): Command {
  cmd
    .description('deploy the previous live version again (or --to a version that was live here), reusing its stored artifact')
    .argument('<service>', 'service name from the spec')
    .requiredOption('--env <environment>', 'environment to roll back')
    .requiredOption('--spec <path>', 'the service deploy spec (as for deploy)')
    .option('--to <version>', 'the version to go back to (default: the release that was live before the current one)')
    .option('--by <name>', 'who requests it (default: $USER, then the OS user name)')
    .option('--key <file>', 'your SSH private key (or its .pub in ssh-agent): signs the request, required where the gate is signed')
    .option('--reason <text>', 'why (default: "rollback from <live> to <target>")')
    .option('--follow', 'show live progress and exit with a code for the outcome')
    .addHelpText(
      'after',
      `
The target comes from the release registry (DEPLOY_DATABASE_URL). The deploy runs as usual — pre-checks,
gates (production still needs an approver), health analysis — with the plan marked kind "rollback".
A version older than an applied contract migration is refused by the pre-checks.

Example:
  deployctl rollback hello-service --env staging --spec examples/hello-service/deploy.yaml --follow
  deployctl rollback hello-service --env production --spec examples/hello-service/deploy.yaml --to 1.0.0 --key ~/.ssh/id_ed25519`,
    );
  return bindAction(cmd, rollbackSpec(p.cwd), p);
}
