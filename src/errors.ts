import { ApplicationFailure } from '@temporalio/common';

/**
 * Failure types the workflow and retry policies know by name. A failure of one of these types is
 * permanent: retrying the same input cannot help, so retry policies list them as non-retryable.
 */
export const FailureType = {
  InvalidInput: 'InvalidInput',
  SpecInvalid: 'SpecInvalid',
  WrongWorkflowId: 'WrongWorkflowId',
  PathOutsideRoots: 'PathOutsideRoots',
  SignatureRefused: 'SignatureRefused',
  ArtifactConflict: 'ArtifactConflict',
  BuildFailed: 'BuildFailed',
  PreChecksFailed: 'PreChecksFailed',
  MigrationRefused: 'MigrationRefused',
  MigrationFailed: 'MigrationFailed',
  HealthCheckFailed: 'HealthCheckFailed',
  TargetCommandFailed: 'TargetCommandFailed',
  RollbackRefused: 'RollbackRefused',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export const NON_RETRYABLE_TYPES: string[] = Object.values(FailureType);

/** A permanent refusal: the message must name the field or thing at fault and what to do about it. */
export function refuse(type: FailureType, message: string, ...details: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details });
}
