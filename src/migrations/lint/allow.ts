import type { SqlComment } from '../sql';

/** A `-- lint-allow: <rule> <reason>` line among a statement's leading comments. */
export interface AllowDirective {
  /** The rule named, '' when none was written. */
  rule: string;
  /** The reason given, '' when none was written. */
  reason: string;
  line: number;
}

const ALLOW_LINE = /^--\s*lint-allow\s*:(.*)$/i;

export function parseAllowDirectives(comments: readonly SqlComment[]): AllowDirective[] {
  const directives: AllowDirective[] = [];
  for (const comment of comments) {
    const m = ALLOW_LINE.exec(comment.text.trim());
    if (!m) continue;
    const body = m[1]!.trim();
    const space = body.search(/\s/);
    const rule = space < 0 ? body : body.slice(0, space);
    const reason = space < 0 ? '' : body.slice(space).trim();
    directives.push({ rule, reason, line: comment.line });
  }
  return directives;
}
