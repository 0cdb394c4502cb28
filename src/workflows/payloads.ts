import type { z } from 'zod';
import { describeIssues } from '../zod-issues';

// Signal and update payloads are external input: validated here, inside the workflow, because a signal
// has no validator of its own. Free text is bounded and free of control characters.
//
// The schemas are built on first use, not at module load: the SDK evaluates the workflow bundle once per
// cached workflow, and building them for every deploy in flight (most never receive a signal) cost about
// 0.7 MB per deploy — 130 MB of worker memory at 200 deploys in flight (BENCHMARKS.md, "Worker memory").
function buildPayloadSchemas() {
  const { z: zod } = require('zod') as typeof import('zod');
  const { personName, freeText } = require('../names') as typeof import('../names');
  // An armored SSH signature; checked by the verifier, bounded here so a huge one never reaches it.
  const signature = zod.string().max(8192, 'must be an armored SSH signature (at most 8192 characters)');
  return {
    approve: zod.strictObject({ by: personName, comment: freeText.optional(), signature: signature.optional() }),
    reject: zod.strictObject({ by: personName, reason: freeText.optional(), comment: freeText.optional(), signature: signature.optional() }),
    intervene: zod.strictObject({ by: personName, action: zod.enum(['retry', 'skip', 'abort']), comment: freeText.optional(), signature: signature.optional() }),
    promote: zod.strictObject({ by: personName, comment: freeText.optional(), signature: signature.optional() }),
    approval: zod.strictObject({ decision: zod.enum(['approve', 'reject']), by: personName, comment: freeText.optional(), signature: signature.optional() }),
  };
}

let schemas: ReturnType<typeof buildPayloadSchemas> | undefined;

/** The zod schemas of the approve/reject/intervene signals and the approval update. */
export function payloadSchemas(): ReturnType<typeof buildPayloadSchemas> {
  return (schemas ??= buildPayloadSchemas());
}

export function describePayloadError(name: string, error: z.ZodError): string {
  return `${name}: ${describeIssues(error).map((line) => line.replace(/^\(root\)/, '(payload)')).join('; ')}`;
}
