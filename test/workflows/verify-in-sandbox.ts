import { parseAllowedSigners } from '../../src/trust/allowed-signers';
import { verifySignedStatement, type VerifyResult } from '../../src/trust/sshsig';
import { renderDecisionStatement, type DecisionStatementFields } from '../../src/trust/statement';

/**
 * A workflow that only verifies signatures, to prove the verifier runs inside Temporal's workflow sandbox
 * (no Node built-ins, no Buffer) exactly as it does in plain Node.
 */

export interface VerifyInSandboxInput {
  allowedSigners: string;
  fields: DecisionStatementFields;
  cases: Array<{ armored: string; principal: string; fields?: Partial<DecisionStatementFields> }>;
}

export interface VerifyInSandboxResult {
  bufferIsDefined: boolean;
  verdicts: VerifyResult[];
}

export async function verifyInSandbox(input: VerifyInSandboxInput): Promise<VerifyInSandboxResult> {
  const signers = parseAllowedSigners(input.allowedSigners, { source: 'allowed_signers' });
  const verdicts = input.cases.map((c) =>
    verifySignedStatement({
      armored: c.armored,
      statement: renderDecisionStatement({ ...input.fields, ...c.fields }),
      namespace: 'deploy',
      principal: c.principal,
      signers,
      verifyTimeMs: Date.now(),
    }),
  );
  return { bufferIsDefined: typeof (globalThis as { Buffer?: unknown }).Buffer !== 'undefined', verdicts };
}
