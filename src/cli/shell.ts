/**
 * Command lines deployctl prints for an operator to paste (`--print`): each word quoted for a POSIX shell
 * so that it reaches the program exactly as printed, whatever it holds (JSON, quotes, `$`, spaces).
 */

/** A word as a POSIX shell reads it back unchanged: bare when it is plainly safe, else single-quoted. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=@+,%-]+$/.test(word)) return word;
  // Inside single quotes nothing is special except the quote itself: close, add an escaped quote, reopen.
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** argv → one pasteable line. */
export function shellCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
