/** Progress goes to stderr so that `--json` leaves exactly one JSON object on stdout. */
export function progress(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[bench ${t}] ${message}\n`);
}
