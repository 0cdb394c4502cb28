import { z } from 'zod';
import { FailureType, refuse } from '../errors';
import { environmentName, serviceName, versionName } from '../names';
import type { CurrentRelease, ReleaseToDeploy } from './types';

export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (a sha256)');

const releaseToDeploySchema = z.object({
  service: serviceName,
  environment: environmentName,
  version: versionName,
  sha256: sha256Hex,
  /** Empty for a version built elsewhere (no build section): only the command target can deploy that. */
  artifactPath: z.string(),
});

const currentReleaseSchema = z.object({
  releaseId: z.string(),
  version: versionName,
  sha256: sha256Hex,
});

/** `<version>-<sha12>`: unique per content, readable by an operator, safe as a directory name. */
export function releaseIdFor(version: string, sha256: string): string {
  return `${version}-${sha256.slice(0, 12)}`;
}

export function toCurrentRelease(version: string, sha256: string): CurrentRelease {
  return { releaseId: releaseIdFor(version, sha256), version, sha256 };
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(value)'} ${i.message}`).join('; ');
}

/** Refuses a release whose names could escape a directory or be misread, before anything is touched. */
export function validateRelease(release: ReleaseToDeploy): ReleaseToDeploy {
  const parsed = releaseToDeploySchema.safeParse(release);
  if (!parsed.success) {
    throw refuse(FailureType.InvalidInput, `release to deploy is invalid: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}

/** Refuses a rollback target that is malformed or whose releaseId does not match its version and sha256. */
export function validateRollbackTarget(to: CurrentRelease): CurrentRelease {
  const parsed = currentReleaseSchema.safeParse(to);
  if (!parsed.success) {
    throw refuse(FailureType.RollbackRefused, `rollback target is invalid: ${describeIssues(parsed.error)}`);
  }
  const expected = releaseIdFor(parsed.data.version, parsed.data.sha256);
  if (parsed.data.releaseId !== expected) {
    throw refuse(
      FailureType.RollbackRefused,
      `rollback target releaseId "${parsed.data.releaseId}" does not match its version and sha256 (expected "${expected}"); pass the release as reported by current() or the registry`,
    );
  }
  return parsed.data;
}

export function sameRelease(a: CurrentRelease | null, b: CurrentRelease | null): boolean {
  if (a === null || b === null) return a === b;
  return a.version === b.version && a.sha256 === b.sha256;
}
