/**
 * Cost of verifying a signed decision, in one Node process:
 *
 *   node --expose-gc --import tsx bench/trust-verify.ts [--json] [--iterations 300]
 *
 * Reports the first verification (it loads @noble and builds its base-point table), the mean of later ones,
 * parsing an allowed_signers file of 3 and of 200 entries, and the heap the first verification leaves
 * behind (needs --expose-gc). The workflow sandbox pays the load and the table once per cached workflow
 * that verifies a signature, and nothing in one that does not (src/trust/hashes.ts loads lazily).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseAllowedSigners } from '../src/trust/allowed-signers';
import { ensureKeys, writeAllowedSigners } from '../src/trust/keys';
import { signStatement } from '../src/trust/sign';
import { verifySignedStatement } from '../src/trust/sshsig';
import { renderDecisionStatement } from '../src/trust/statement';

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const at = process.argv.indexOf('--iterations');
  const iterations = at > 0 ? Number(process.argv[at + 1]) : 300;
  const gc = (globalThis as { gc?: () => void }).gc;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-trust-'));
  try {
    const names = ['alice', 'bob', 'carol'];
    const keys = await ensureKeys(path.join(dir, 'keys'), names);
    const small = await writeAllowedSigners(path.join(dir, 'small'), keys.map((k) => ({ principal: k.name, publicKeyLine: k.publicKeyLine })));
    const bigLines = Array.from({ length: 200 }, (_, i) => `user${i} namespaces="deploy" ${keys[i % 3].publicKeyLine.split(' ').slice(0, 2).join(' ')}`);
    const big = `${small}${bigLines.join('\n')}\n`;
    const statement = renderDecisionStatement({
      workflowId: 'deploy-hello-service-production',
      runId: '0198c7a1-5b2e-7c41-9a0e-2f4f3c1d9e77',
      service: 'hello-service',
      environment: 'production',
      version: '1.1.0',
      artifactSha256: 'a'.repeat(64),
      stage: 'migrate',
      decision: 'approve',
      signer: 'alice',
    });
    const armored = await signStatement({ statement, keyFile: keys[0].privateKeyFile });

    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let started = performance.now();
    const signers = parseAllowedSigners(small);
    const verify = () => verifySignedStatement({ armored, statement, namespace: 'deploy', principal: 'alice', signers, verifyTimeMs: Date.now() });
    if (!verify().ok) throw new Error('the benchmark signature did not verify');
    const firstVerifyMs = performance.now() - started;
    gc?.();
    const heapAfterFirstMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;

    started = performance.now();
    for (let i = 0; i < iterations; i++) verify();
    const verifyMs = (performance.now() - started) / iterations;

    started = performance.now();
    for (let i = 0; i < 100; i++) parseAllowedSigners(small);
    const parseSmallMs = (performance.now() - started) / 100;
    started = performance.now();
    for (let i = 0; i < 20; i++) parseAllowedSigners(big);
    const parse200Ms = (performance.now() - started) / 20;

    const result = {
      node: process.version,
      iterations,
      firstVerifyMs: round(firstVerifyMs),
      verifyMs: round(verifyMs),
      parseAllowedSigners3Ms: round(parseSmallMs),
      parseAllowedSigners200Ms: round(parse200Ms),
      heapAfterFirstVerifyMb: gc ? round(heapAfterFirstMb) : null,
    };
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(26)} ${v}\n`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
