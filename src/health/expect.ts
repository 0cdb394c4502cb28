import { z } from 'zod';

/**
 * What a readiness answer must say, beyond "2xx": the status codes that count, a substring of the body, a
 * JSON field's value. A service that answers 200 on any path (a wrong health path) then fails visibly.
 */
export const healthExpectationSchema = z.strictObject({
  /** Status codes that count as ready; default any 2xx. */
  status: z.array(z.number().int().min(100).max(599)).min(1).max(20).optional(),
  /** Text the body must contain. */
  bodyIncludes: z.string().min(1).max(200).optional(),
  /** A JSON field (dotted path into the body) and the value it must equal. */
  json: z
    .strictObject({
      path: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a dotted path of field names, e.g. checks.database.status'),
      equals: z.union([z.string().max(200), z.number(), z.boolean()]),
    })
    .optional(),
});
export type HealthExpectation = z.infer<typeof healthExpectationSchema>;

/** The most of a body an expectation reads. */
export const MAX_EXPECTED_BODY_BYTES = 64 * 1024;

/** Why an answer does not meet the expectation, or null when it does. Quotes of the body are bounded. */
export function unmetExpectation(expect: HealthExpectation, status: number, body: string): string | null {
  const statusOk = expect.status ? expect.status.includes(status) : status >= 200 && status <= 299;
  if (!statusOk) return `HTTP ${status}, expected ${expect.status ? expect.status.join(' or ') : '2xx'}`;
  if (expect.bodyIncludes !== undefined && !body.includes(expect.bodyIncludes)) return `the body does not contain ${JSON.stringify(expect.bodyIncludes)}`;
  if (expect.json) {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return `the body is not JSON (expected ${expect.json.path} = ${JSON.stringify(expect.json.equals)})`;
    }
    for (const key of expect.json.path.split('.')) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    if (value !== expect.json.equals) {
      const shown = value === undefined ? 'missing' : JSON.stringify(value).slice(0, 60);
      return `${expect.json.path} is ${shown}, expected ${JSON.stringify(expect.json.equals)}`;
    }
  }
  return null;
}
