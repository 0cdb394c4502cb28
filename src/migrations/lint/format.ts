import type { AllowedFinding, Finding } from './types';

/** `<file>:<line>: <rule>: <message>` — the contract's output format. */
export function formatFinding(f: Finding): string {
  return `${f.file}:${f.line}: ${f.rule}: ${f.message}`;
}

export function formatAllowed(f: AllowedFinding): string {
  return `${f.file}:${f.line}: ${f.rule}: allowed: ${f.reason}`;
}
