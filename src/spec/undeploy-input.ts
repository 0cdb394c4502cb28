import { z } from 'zod';
import { FailureType, refuse } from '../errors';
import { freeText } from '../names';
import { deployInputSchema, describeIssues } from './schema';

/**
 * The input of `undeployService`: which service (through its spec) to stop or undeploy where, who asks and
 * why. The same fields and rules as a deploy's input (a signed request carries requestedAt and signature),
 * without a version: it acts on whatever runs there. The reason is required: it is the audit's "why".
 */
export const undeployInputSchema = deployInputSchema.omit({ version: true, reason: true }).extend({
  action: z.enum(['stop', 'undeploy'], 'must be "stop" (stop the process, keep current) or "undeploy" (stop it, remove current, nothing live)'),
  reason: z
    .string('must say why (it is kept in the audit)')
    .pipe(freeText)
    .refine((t) => t.trim().length > 0, 'must say why (it is kept in the audit)'),
});
export type UndeployInput = z.infer<typeof undeployInputSchema>;

export function parseUndeployInput(raw: unknown): UndeployInput {
  const parsed = undeployInputSchema.safeParse(raw);
  if (!parsed.success) {
    throw refuse(FailureType.InvalidInput, `invalid workflow input: ${describeIssues(parsed.error, 'input').join('; ')}`);
  }
  return parsed.data;
}
