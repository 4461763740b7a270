// One redaction for credentials in URLs: `scheme://user:password@host` loses its user and
// password wherever a URL can reach an error message, a log line, a mail, a metric or a page.
// Used at the source (error messages, the sync report, /v1/status) and, as a safety net, on
// every log line the process writes (createLogger's streamWrite hook).

// scheme "://" then userinfo (no whitespace, quote, slash or "@" — those end it or are not
// allowed unencoded in userinfo) then "@": the userinfo is dropped.
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>\\]*@/gi;

/**
 * `text` with the `user:password@` of every URL in it removed: a bare URL
 * (`https://u:p@feed.example/x` → `https://feed.example/x`), or a message, a log line or
 * a mail body holding URLs anywhere. Text with no credentials comes back unchanged.
 */
export function redactCredentials(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(USERINFO, '$1');
}
