import type { DesiredServer, ServerState } from '../schema';

/**
 * Decides which Runtime API steps take a front door's backend from what haproxy reports to what was
 * recorded. Pure: the steps are described here and carried out by the front door, which re-reads haproxy
 * and plans again on every call, so an apply interrupted anywhere is finished by the next one.
 *
 * The order keeps traffic flowing: servers are added (haproxy creates them in maintenance) and raised
 * before any server is lowered, so at every step at least the servers that serve before and after the
 * change are serving; removals come last, after a drain.
 */

/** A server as haproxy reports it. */
export interface ActualServer {
  name: string;
  port: number;
  weight: number;
  state: ServerState;
}

export type TrafficStep =
  /** `add server`: created in maintenance with its weight, so it takes nothing until set ready. */
  | { kind: 'add'; server: string; port: number; weight: number }
  | { kind: 'setWeight'; server: string; weight: number; from: number }
  | { kind: 'setState'; server: string; state: ServerState; from: ServerState }
  /** drain → wait for its requests to finish (bounded) → maint → `del server`. */
  | { kind: 'remove'; server: string; from: ServerState };

export function describeStep(step: TrafficStep): string {
  switch (step.kind) {
    case 'add':
      return `add server ${step.server} (127.0.0.1:${step.port}, weight ${step.weight}, in maintenance until enabled)`;
    case 'setWeight':
      return `server ${step.server}: weight ${step.from} → ${step.weight}`;
    case 'setState':
      return `server ${step.server}: ${step.from} → ${step.state}`;
    case 'remove':
      return `remove server ${step.server} (drain, maintenance, delete)`;
  }
}

export function planTrafficSteps(actual: readonly ActualServer[], desired: readonly DesiredServer[]): TrafficStep[] {
  const current = new Map(actual.map((s) => [s.name, s]));
  const wanted = new Set(desired.map((s) => s.name));
  const raise: TrafficStep[] = [];
  const lower: TrafficStep[] = [];
  const removals: TrafficStep[] = [];

  for (const target of desired) {
    let now = current.get(target.name);
    let readdressed = false;
    if (now && now.port !== target.port) {
      // A name bound to another port is another server: the old one goes first (a release gets a new
      // name per version, so this happens only when an operator reuses a name).
      removals.push({ kind: 'remove', server: now.name, from: now.state });
      now = undefined;
      readdressed = true;
    }
    if (!now) {
      const steps: TrafficStep[] = [{ kind: 'add', server: target.name, port: target.port, weight: target.weight }];
      if (target.state !== 'maint') steps.push({ kind: 'setState', server: target.name, state: target.state, from: 'maint' });
      // The same name can exist only once: a re-addressed server is added back after the old one is deleted.
      if (readdressed) removals.push(...steps);
      else (target.state === 'ready' ? raise : lower).push(...steps);
      continue;
    }
    const weight: TrafficStep | null =
      now.weight === target.weight ? null : { kind: 'setWeight', server: target.name, weight: target.weight, from: now.weight };
    const state: TrafficStep | null =
      now.state === target.state ? null : { kind: 'setState', server: target.name, state: target.state, from: now.state };
    if (target.state === 'ready') {
      if (state) raise.push(...(weight ? [weight] : []), state); // the weight is right before it takes traffic
      else if (weight) (target.weight > now.weight ? raise : lower).push(weight);
    } else {
      // Leaving rotation first: a weight change on a server that takes no new requests moves no traffic.
      lower.push(...(state ? [state] : []), ...(weight ? [weight] : []));
    }
  }
  for (const now of actual) {
    if (!wanted.has(now.name)) removals.push({ kind: 'remove', server: now.name, from: now.state });
  }
  return [...raise, ...lower, ...removals];
}
