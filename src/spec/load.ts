import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { FailureType, refuse } from '../errors';
import { canonicalVersion } from '../names';
import { defaultHealthUrl, targetPlan } from '../targets/registry';
import { frontDoorName } from '../traffic/schema';
import { confine } from './confine';
import type { CanaryStep, DeployPlan, GatePlan, HealthPlan, LiveRelease, StrategyPlan } from '../workflows/types';
import type { StrategySpec } from './strategy';
import { deployInputSchema, deploySpecSchema, describeIssues, MUTATING_STAGES, STAGES, type DeployInput, type DeploySpec } from './schema';

const MAX_SPEC_BYTES = 256 * 1024;

export function parseDeployInput(raw: unknown): DeployInput {
  const parsed = deployInputSchema.safeParse(raw);
  if (!parsed.success) {
    throw refuse(FailureType.InvalidInput, `invalid workflow input: ${describeIssues(parsed.error, 'input').join('; ')}`);
  }
  return parsed.data;
}

export interface SpecSourceRules {
  /** A spec path must resolve (symlinks followed) inside this directory. */
  specRoot?: string;
  /** Inline spec objects are accepted only when the worker allows them. */
  allowInline?: boolean;
}

/**
 * Loads a spec from a file (YAML or JSON, relative to `cwd`) or takes an inline object, and validates it.
 * With `rules.specRoot`, a path outside the root is refused before it is read; without `allowInline`, an
 * inline object is refused. `file` is the resolved spec file (absent for an inline spec).
 */
export async function loadSpec(
  source: string | Record<string, unknown>,
  cwd: string,
  rules: SpecSourceRules = { allowInline: true },
): Promise<{ spec: DeploySpec; source: string; sha256: string; file?: string }> {
  let raw: unknown;
  let text: string;
  let label: string;
  let file: string | undefined;
  if (typeof source === 'string') {
    file = path.resolve(cwd, source);
    if (rules.specRoot) file = await confine('input.spec', file, [rules.specRoot], 'the spec root');
    label = source;
    try {
      const stat = await fs.stat(file);
      if (!stat.isFile()) throw refuse(FailureType.SpecInvalid, `spec ${source}: not a file`);
      if (stat.size > MAX_SPEC_BYTES) throw refuse(FailureType.SpecInvalid, `spec ${source}: larger than ${MAX_SPEC_BYTES} bytes`);
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if ((err as { type?: string }).type) throw err;
      throw refuse(FailureType.SpecInvalid, `spec ${source}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'}) from ${cwd}; give a path relative to the worker's spec root (DEPLOY_SPEC_ROOT, default its working directory)`);
    }
    try {
      raw = file.endsWith('.json') ? parseJsonNamingOnlyThePosition(text) : YAML.parse(text, { maxAliasCount: 50, uniqueKeys: true });
    } catch (err) {
      const e = err as Error & { code?: string; pos?: [number, number]; linePos?: [{ line: number }] };
      if (e.code === 'DUPLICATE_KEY' && e.pos) {
        // A repeated key would silently override the first (e.g. a second `gates:`); name it.
        const key = (/^[^:\n]*/.exec(text.slice(e.pos[0]))?.[0] ?? '').trim().slice(0, 80);
        throw refuse(FailureType.SpecInvalid, `spec ${source}: key "${key}" appears twice in the same mapping (line ${e.linePos?.[0].line ?? '?'}); keep one`);
      }
      throw refuse(FailureType.SpecInvalid, `spec ${source}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${e.message.split('\n')[0]}`);
    }
  } else {
    if (!rules.allowInline) {
      throw refuse(
        FailureType.InvalidInput,
        `input.spec: this worker refuses inline specs (the worker, not the caller, decides which specs exist); give the path of a spec file under ${rules.specRoot ?? 'the spec root'}, or set DEPLOY_ALLOW_INLINE_SPECS=true on the worker for tests and experiments`,
      );
    }
    label = 'inline';
    text = JSON.stringify(source);
    raw = source;
  }
  const parsed = deploySpecSchema.safeParse(raw);
  if (!parsed.success) {
    throw refuse(FailureType.SpecInvalid, `spec ${label} is invalid: ${describeIssues(parsed.error).join('; ')}`);
  }
  return { spec: parsed.data, source: label, sha256: createHash('sha256').update(text).digest('hex'), file };
}

/** JSON.parse whose error names where, never what: its own message quotes the file's text. */
function parseJsonNamingOnlyThePosition(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new Error(position ? `syntax error at character ${position}` : 'syntax error');
  }
}

/** Resolves one environment of a validated spec into the plan the workflow runs. */
export function resolvePlan(o: {
  spec: DeploySpec;
  specSource: string;
  specSha256: string;
  input: DeployInput;
  cwd: string;
  dataDir: string;
  live: LiveRelease | null;
  previouslyLive: boolean;
  /** How host paths resolve; default: against `cwd`. */
  resolvePath?: (p: string) => string;
}): DeployPlan {
  const { spec, input } = o;
  const env = spec.environments[input.environment];
  if (!env) {
    throw refuse(
      FailureType.InvalidInput,
      `input.environment: "${input.environment}" is not in spec ${o.specSource}; environments: ${Object.keys(spec.environments).join(', ')}`,
    );
  }
  const abs = o.resolvePath ?? ((p: string) => path.resolve(o.cwd, p));
  const health = { ...spec.health, ...(env.health ?? {}) };
  const strategy = strategyPlan(env.strategy);
  const target = targetPlan(env.target, {
    service: spec.service,
    environment: input.environment,
    resolvePath: abs,
    runtimeCommand: spec.runtime.command,
    healthPath: health.path,
    ...(strategy.type !== 'replace' ? { frontDoor: { name: frontDoorName(spec.service, input.environment), healthPath: health.path } } : {}),
  });
  const healthPlan: HealthPlan = {
    // The schema refuses a spec where neither exists.
    url: health.url ?? defaultHealthUrl(env.target, health.path)!,
    intervalMs: health.intervalMs,
    windowMs: health.windowMs,
    requestTimeoutMs: health.requestTimeoutMs,
    consecutiveSuccesses: health.consecutiveSuccesses,
    minSuccessRatio: health.minSuccessRatio,
    maxP95LatencyMs: health.maxP95LatencyMs,
    maxConsecutiveFailures: health.maxConsecutiveFailures,
    ...(health.expect ? { expect: health.expect } : {}),
  };
  // Production is gated before its first mutating stage unless the spec says otherwise.
  const gateSpecs = env.gates ?? (input.environment === 'production' ? [{ before: MUTATING_STAGES[0]!, approvers: [], quorum: 1, requesterMayApprove: false, timeoutMinutes: 24 * 60, onTimeout: 'reject' as const }] : []);
  const gates: GatePlan[] = gateSpecs
    .map((g) => ({
      before: g.before,
      approvers: g.approvers,
      quorum: g.quorum,
      requesterMayApprove: g.requesterMayApprove,
      timeoutMs: 'timeoutSeconds' in g && g.timeoutSeconds !== undefined ? g.timeoutSeconds * 1000 : g.timeoutMinutes * 60_000,
      signed: ('signed' in g ? g.signed : undefined) ?? g.approvers.length > 0,
    }))
    .sort((a, b) => STAGES.indexOf(a.before) - STAGES.indexOf(b.before));

  // Nothing live but this version was (e.g. a failed rollback was skipped): deploying it is a rollback, so a
  // broken current release does not block the way back.
  const kind: DeployPlan['kind'] = !o.live ? (o.previouslyLive ? 'rollback' : 'first') : o.live.version === canonicalVersion(input.version) ? 'redeploy' : o.previouslyLive ? 'rollback' : 'forward';
  return {
    service: spec.service,
    environment: input.environment,
    version: canonicalVersion(input.version),
    requestedBy: input.requestedBy,
    reason: input.reason,
    spec: { source: o.specSource, sha256: o.specSha256 },
    kind,
    live: o.live,
    dataDir: abs(o.dataDir),
    artifactStore: path.join(abs(o.dataDir), 'artifacts'),
    source: { repository: abs(spec.source.repository) },
    build: spec.build ? { command: spec.build.command, outputs: spec.build.outputs, timeoutMs: spec.build.timeoutMs } : null,
    runtime: { command: spec.runtime.command, requiredConfig: spec.runtime.requiredConfig },
    config: { ...(env.config ? { envFile: abs(env.config.envFile) } : {}), databaseUrlFrom: env.database?.urlFromConfig },
    migrations: spec.migrations,
    preChecks: { minFreeDiskMb: spec.preChecks.minFreeDiskMb, dependencies: env.dependencies ?? [] },
    health: healthPlan,
    target,
    ...(strategy.type !== 'replace' ? { strategy } : {}),
    gates,
    heartbeatTimeoutMs: spec.timeouts.heartbeatMs,
    intervention: interventionPolicy(env.operators, gates),
  };
}

function strategyPlan(s: StrategySpec | undefined): StrategyPlan {
  if (!s || s.type === 'replace') return { type: 'replace' };
  const promotion = {
    promoters: s.promoters,
    signed: s.promoters.length > 0,
    promoteTimeoutMs: s.promoteTimeoutMinutes * 60_000,
    scaleDownDelayMs: s.scaleDownDelaySeconds * 1000,
  };
  if (s.type === 'blueGreen') return { type: 'blueGreen', previewAnalysis: s.previewAnalysis, pauseForPromote: s.pauseForPromote, ...promotion };
  const steps: CanaryStep[] = s.steps.map((step) =>
    step.setWeight !== undefined
      ? { setWeight: step.setWeight }
      : step.analysis
        ? { analysis: { against: step.analysis.against, ...(step.analysis.windowMs !== undefined ? { windowMs: step.analysis.windowMs } : {}) } }
        : { pause: { ...(step.pause?.seconds !== undefined ? { seconds: step.pause.seconds } : {}) } },
  );
  return { type: 'canary', steps, ...promotion };
}

/** The front door's name: service and environment as one narrow word (HAProxy config and messages). */

/** Who may intervene in a failed rollback: the listed operators, else the gates' approvers; signed when anyone is named. */
function interventionPolicy(operators: string[] | undefined, gates: GatePlan[]): NonNullable<DeployPlan['intervention']> {
  const named = operators ?? [...new Set(gates.flatMap((g) => g.approvers))];
  return { operators: named, signed: named.length > 0 };
}
