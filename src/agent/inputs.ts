import { z } from 'zod';
import { FailureType, refuse } from '../errors';
import { healthExpectationSchema } from '../health/expect';
import { healthThresholdsSchema } from '../health/thresholds';
import { configName, environmentName, serviceName, versionName } from '../names';
import { absolutePath, argv, servicePort } from '../spec/fields';
import { localTargetFields } from '../targets/local/config';
import { sha256Hex } from '../targets/release-id';
import { describeIssues } from '../zod-issues';
import { HOST_NAME_PATTERN } from './contract';

/**
 * What each host agent activity accepts. Every name here becomes a directory, a process argument or a task
 * queue on the host, so each is as narrow as it is elsewhere in the orchestrator; unknown fields are refused.
 */

/** `artifacts` is the agent's cache directory beside the service directories (see hostArtifactCache). */
const hostServiceName = serviceName.refine((s) => s !== 'artifacts', 'must not be "artifacts" (the host agent keeps its artifact cache under that name)');

export const hostNameSchema = z.string().regex(HOST_NAME_PATTERN, 'must be lowercase letters, digits and dashes, starting with a letter or digit (max 63)');

export const hostRuntimeSchema = z.strictObject({
  service: hostServiceName,
  environment: environmentName,
  host: hostNameSchema,
  port: servicePort,
  command: argv,
  keepReleases: localTargetFields.keepReleases.unwrap(),
  stopTimeoutMs: localTargetFields.stopTimeoutMs.unwrap(),
  startTimeoutMs: localTargetFields.startTimeoutMs.unwrap(),
  /** On the host, so it must not depend on the agent's working directory. */
  envFile: absolutePath.optional(),
  requiredConfig: z.array(configName).max(200),
});

const hostReleaseSchema = z.strictObject({ service: hostServiceName, environment: environmentName, version: versionName, sha256: sha256Hex });

const hostReleaseRefSchema = z.strictObject({ releaseId: z.string().min(1).max(200), version: versionName, sha256: sha256Hex });

export const hostDeployInputSchema = z
  .strictObject({ release: hostReleaseSchema, runtime: hostRuntimeSchema })
  .superRefine((a, ctx) => {
    for (const field of ['service', 'environment'] as const) {
      if (a.release[field] !== a.runtime[field]) {
        ctx.addIssue({ code: 'custom', path: ['release', field], message: `must equal runtime.${field} (${JSON.stringify(a.runtime[field])})` });
      }
    }
  });

/** The health plan: its thresholds, its URL (only its path and query are used on the host) and what answers must say. */
const hostHealthSchema = z
  .looseObject({ url: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }), expect: healthExpectationSchema.optional() })
  .transform((h, ctx) => {
    const { url, expect, ...rest } = h;
    const thresholds = healthThresholdsSchema.safeParse(rest);
    if (!thresholds.success) {
      for (const issue of thresholds.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      return z.NEVER;
    }
    return { url, expect, thresholds: thresholds.data };
  });

export const hostProbeInputSchema = z.strictObject({ runtime: hostRuntimeSchema, health: hostHealthSchema });
export const hostRollbackInputSchema = z.strictObject({ runtime: hostRuntimeSchema, to: hostReleaseRefSchema.nullable() });
export const hostStatusInputSchema = z.strictObject({ runtime: hostRuntimeSchema });

/**
 * Parses an activity's input or refuses it for good (a retry of the same input cannot succeed), naming
 * every bad field. Values are not echoed: a command line or a path may say more than the field's problem.
 */
export function parseHostInput<S extends z.ZodType>(activity: string, schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw refuse(FailureType.InvalidInput, `${activity} input is invalid: ${describeIssues(parsed.error).join('; ')}`);
  return parsed.data;
}

