/**
 * Prints how the migration linter does on the labelled cases taken from squawk, strong_migrations and eugene
 * (test/fixtures/lint-peer-cases.ts): share of dangerous cases flagged, share of safe cases refused, per
 * source, then every case missed or refused.
 *
 *   npx tsx scripts/lint-peer-report.ts
 */
import { PEER_CASES } from '../test/fixtures/lint-peer-cases';
import { evaluatePeerCases, formatEvaluation } from '../test/helpers/lint-peer-evaluation';

async function main(): Promise<void> {
  const evaluation = await evaluatePeerCases(PEER_CASES);
  console.log(`${PEER_CASES.length} labelled cases`);
  for (const line of formatEvaluation(evaluation, { listProblems: true })) console.log(line);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
