import { z } from 'zod';
import { healthExpectationSchema } from '../health/expect';
import { maxProbesInWindow } from '../health/thresholds';
import { configName, environmentName, freeText, personName, serviceName, versionName } from '../names';
import { STAGES } from '../workflows/stages';
import { defaultHealthUrl, supportsFrontDoor, targetSpecSchema } from '../targets/registry';
import { strategyProblems, strategySchema } from './strategy';
import { argv, hostPath, positiveMs, relativePath } from './fields';

/**
 * The deploy spec: one service, how to build it, how to check, migrate, deploy and validate it, and per
 * environment where it goes and who must approve. Every object is strict (unknown fields are refused) so a
 * typo never silently turns a safety setting off.
 */

export { MUTATING_STAGES, STAGES, type StageName } from '../workflows/stages';

export const healthSchema = z.strictObject({
  /** Readiness path on the local target (`http://127.0.0.1:<port><path>`). */
  path: z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/, 'must be an absolute URL path like /readyz').default('/readyz'),
  /** Full readiness URL; required for the command target. */
  url: z.url({ protocol: /^https?$/ }).optional(),
  intervalMs: positiveMs.default(500),
  windowMs: positiveMs.default(20_000),
  requestTimeoutMs: positiveMs.default(2_000),
  consecutiveSuccesses: z.number().int().min(1).max(1000).default(5),
  minSuccessRatio: z.number().gt(0).max(1).default(0.9),
  maxP95LatencyMs: positiveMs.default(1_000),
  maxConsecutiveFailures: z.number().int().min(1).max(1000).default(3),
  /** What a ready answer must say beyond a 2xx: status codes, body text, a JSON field's value. */
  expect: healthExpectationSchema.optional(),
});

const gateSchema = z.strictObject({
  before: z.enum(STAGES),
  /** Who may approve; empty means anyone named (but never the requester unless allowed). */
  approvers: z.array(personName).max(100).default([]),
  quorum: z.number().int().min(1).max(10).default(1),
  requesterMayApprove: z.boolean().default(false),
  timeoutMinutes: z.number().int().min(1).max(60 * 24 * 14).default(24 * 60),
  /** A timeout under a minute (rehearsals and tests); when set it replaces timeoutMinutes. */
  timeoutSeconds: z.number().int().min(1).max(60 * 60 * 24 * 14).optional(),
  /** What a timeout does: reject (and roll back anything already changed). */
  onTimeout: z.literal('reject').default('reject'),
  /**
   * Decisions must carry an SSH signature by the approver's key in `trust.allowedSigners`. Default: true
   * whenever the gate lists approvers (a name in a payload proves nothing).
   */
  signed: z.boolean().optional(),
});
export type GateSpec = z.infer<typeof gateSchema>;

const dependencySchema = z.union([
  z.strictObject({ name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/), tcp: z.string().regex(/^[A-Za-z0-9.-]+:[0-9]{1,5}$/, 'must be host:port') }),
  z.strictObject({ name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/), http: z.url({ protocol: /^https?$/ }) }),
]);

const environmentSchema = z.strictObject({
  /** The runtime config source: KEY=VALUE lines. Values are read on the worker and never enter history. */
  config: z.strictObject({ envFile: hostPath }).optional(),
  /** Which runtime config variable holds the environment's database URL (for pre-checks and migrations). */
  database: z.strictObject({ urlFromConfig: configName }).optional(),
  target: targetSpecSchema,
  gates: z.array(gateSchema).max(STAGES.length).optional(),
  health: healthSchema.partial().optional(),
  dependencies: z.array(dependencySchema).max(32).optional(),
  /** How a release takes over traffic: replace (default), blueGreen or canary (see src/spec/strategy.ts). */
  strategy: strategySchema.optional(),
  /** Who may intervene in a failed rollback (signed). Default: the approvers of the environment's gates. */
  operators: z.array(personName).max(100).optional(),
});
export type EnvironmentSpec = z.infer<typeof environmentSchema>;

export const deploySpecSchema = z
  .strictObject({
    service: serviceName,
    source: z.strictObject({ repository: hostPath }),
    build: z
      .strictObject({
        command: argv,
        outputs: z.array(relativePath).min(1).max(64),
        timeoutMs: positiveMs.default(600_000),
      })
      .optional(),
    runtime: z.strictObject({
      /** argv run from the release directory by the local target; `{port}` becomes the port to listen on. */
      command: argv.refine((a) => a.every((arg) => !/\{(?!port\})[A-Za-z][A-Za-z0-9]*\}/.test(arg)), 'may use only the {port} placeholder (the port to listen on; PORT is in the environment too)'),
      requiredConfig: z.array(configName).max(128).default([]),
    }),
    migrations: z
      .strictObject({
        directory: relativePath.default('migrations'),
        lockTimeoutMs: positiveMs.default(3_000),
        statementTimeoutMs: positiveMs.default(60_000),
      })
      .default({ directory: 'migrations', lockTimeoutMs: 3_000, statementTimeoutMs: 60_000 }),
    preChecks: z
      .strictObject({ minFreeDiskMb: z.number().int().min(0).max(10_000_000).default(100) })
      .default({ minFreeDiskMb: 100 }),
    health: healthSchema.default(healthSchema.parse({})),
    /** Approvers' public keys: an OpenSSH allowed_signers file, relative to this spec's directory, inside the spec root. */
    trust: z.strictObject({ allowedSigners: relativePath }).optional(),
    timeouts: z
      .strictObject({
        /** How soon a dead worker is noticed during a stage (the activity heartbeat timeout). */
        heartbeatMs: z.number().int().min(1_000).max(600_000).default(10_000),
      })
      .default({ heartbeatMs: 10_000 }),
    environments: z.record(environmentName, environmentSchema).refine((e) => Object.keys(e).length > 0, 'needs at least one environment'),
  })
  .superRefine((spec, ctx) => {
    for (const [name, env] of Object.entries(spec.environments)) {
      const h = { ...spec.health, ...(env.health ?? {}) };
      if (h.consecutiveSuccesses > maxProbesInWindow(h)) {
        ctx.addIssue({
          code: 'custom',
          path: ['environments', name, 'health', 'consecutiveSuccesses'],
          message: `${h.consecutiveSuccesses} consecutive successes cannot fit in windowMs ${h.windowMs} at intervalMs ${h.intervalMs}; lower it or widen the window`,
        });
      }
      if (!(env.health?.url ?? spec.health.url) && defaultHealthUrl(env.target, h.path) === undefined) {
        ctx.addIssue({ code: 'custom', path: ['environments', name, 'health', 'url'], message: `a ${env.target.type} target needs health.url (the readiness URL to analyse)` });
      }
      if (env.database && !env.config) {
        ctx.addIssue({ code: 'custom', path: ['environments', name, 'config'], message: `database.urlFromConfig names ${env.database.urlFromConfig}, which must come from a config source: add config.envFile` });
      }
      if (env.strategy) {
        for (const [sub, message] of strategyProblems(env.strategy, { trusted: !!spec.trust, frontDoorCapable: supportsFrontDoor(env.target), targetType: env.target.type })) {
          ctx.addIssue({ code: 'custom', path: ['environments', name, 'strategy', ...sub], message });
        }
      }
      const seen = new Set<string>();
      for (const [i, gate] of (env.gates ?? []).entries()) {
        if (seen.has(gate.before)) ctx.addIssue({ code: 'custom', path: ['environments', name, 'gates', i, 'before'], message: `two gates before ${gate.before}; merge them` });
        seen.add(gate.before);
        if (gate.signed === true && gate.approvers.length === 0) {
          ctx.addIssue({ code: 'custom', path: ['environments', name, 'gates', i, 'signed'], message: 'a signed gate needs approvers: list who may sign' });
        }
        if ((gate.signed ?? gate.approvers.length > 0) && !spec.trust) {
          ctx.addIssue({ code: 'custom', path: ['environments', name, 'gates', i, 'signed'], message: 'a signed gate (the default when it lists approvers) needs trust.allowedSigners: the approvers\' public keys' });
        }
        if (gate.approvers.length > 0 && gate.quorum > gate.approvers.length) {
          ctx.addIssue({ code: 'custom', path: ['environments', name, 'gates', i, 'quorum'], message: `quorum ${gate.quorum} exceeds the ${gate.approvers.length} allowed approvers` });
        }
      }
    }
  });

export type DeploySpec = z.infer<typeof deploySpecSchema>;
export type HealthSpec = z.infer<typeof healthSchema>;

/** Workflow input, exactly as operators type it into `temporal workflow start --input`. */
export const deployInputSchema = z.strictObject({
  spec: z.union([hostPath.refine((p) => /\.ya?ml$|\.json$/.test(p), 'must be a .yaml, .yml or .json file'), z.record(z.string(), z.unknown())]),
  environment: environmentName,
  version: versionName,
  requestedBy: personName,
  // Bidi overrides would let a reason display differently from what it says (same rule as signal comments).
  reason: freeText.optional(),
  /** When the request was signed (ISO 8601 UTC); part of the signed request statement. */
  requestedAt: z.string().max(40).optional(),
  /** An armored SSH signature by `requestedBy` over the request statement; required for an environment with a signed gate. */
  signature: z.string().max(8192).optional(),
});
export type DeployInput = z.infer<typeof deployInputSchema>;

export { describeIssues } from '../zod-issues';
