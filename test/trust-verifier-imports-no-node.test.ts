import fs from 'node:fs/promises';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

// The verifier's modules run inside Temporal's workflow sandbox: no Node built-ins, no Buffer, no process.
// This follows their imports (relative ones recursively) and reads their code.

const WORKFLOW_SAFE_ENTRIES = ['src/trust/sshsig.ts', 'src/trust/allowed-signers.ts', 'src/trust/statement.ts'];
const ALLOWED_PACKAGES = [/^@noble\/curves\//, /^@noble\/hashes\//];
const ROOT = path.resolve(__dirname, '..');

function specifiers(code: string): string[] {
  const found: string[] = [];
  for (const re of [/\bfrom\s+['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /^\s*import\s+['"]([^'"]+)['"]/gm]) {
    for (const match of code.matchAll(re)) found.push(match[1]);
  }
  return found;
}

/** The code without comments, so that a comment mentioning Buffer does not count as using it. */
function withoutComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"\\])\/\/.*$/gm, '$1');
}

test('the verifier and the modules it imports use no Node built-in, no Buffer and no process', async () => {
  const seen = new Set<string>();
  const queue = WORKFLOW_SAFE_ENTRIES.map((f) => path.join(ROOT, f));
  const packages = new Set<string>();
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const code = await fs.readFile(file, 'utf8');
    const relative = path.relative(ROOT, file);
    for (const spec of specifiers(code)) {
      assert.ok(!spec.startsWith('node:') && !builtinModules.includes(spec), `${relative} imports the Node built-in "${spec}"`);
      if (spec.startsWith('.')) {
        queue.push(path.resolve(path.dirname(file), `${spec}.ts`));
      } else {
        assert.ok(ALLOWED_PACKAGES.some((re) => re.test(spec)), `${relative} imports "${spec}", which is not known to be sandbox-safe`);
        packages.add(spec);
      }
    }
    const body = withoutComments(code);
    assert.doesNotMatch(body, /\bBuffer\b/, `${relative} uses Buffer`);
    assert.doesNotMatch(body, /\bprocess\./, `${relative} uses process`);
  }
  assert.ok(seen.has(path.join(ROOT, 'src/trust/hashes.ts')), 'the walk reached the crypto module');
  assert.ok(!seen.has(path.join(ROOT, 'src/trust/sign.ts')) && !seen.has(path.join(ROOT, 'src/trust/keys.ts')), 'the Node-side modules stay out');
  assert.deepEqual([...packages].sort(), ['@noble/curves/ed25519.js', '@noble/hashes/sha2.js']);
});
