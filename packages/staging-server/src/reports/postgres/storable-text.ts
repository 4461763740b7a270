// PostgreSQL's text cannot hold U+0000, which a JSON string may (an installer's output read
// in the wrong encoding is full of them): such a report would fail on every resend and stay
// in the client's outbox for good. The character is stored as U+FFFD, the replacement
// character, and a resend is compared in the same form, so it is still a resend. (json
// columns keep it: JSON text writes it as the escape \u0000.)
export function storableText(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}

export function storableOrNull(value: string | null | undefined): string | null {
  return value === undefined || value === null ? null : storableText(value);
}
