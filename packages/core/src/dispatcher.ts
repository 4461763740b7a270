// The proxy/TLS layer: which undici dispatcher carries a request. Redirects are followed
// here too, so callers of the request function never see a 3xx; a request with a UrlCheck
// follows them itself, hop by hop (http-request.ts), so that each hop can be refused.
import { Agent, ProxyAgent, interceptors } from 'undici';
import type { Dispatcher } from 'undici';

export interface DispatcherOptions {
  /** http(s) proxy URL (undici ProxyAgent) */
  proxy?: string | null;
  /** PEM CA bundle for https (trust.ca, §5) */
  ca?: string | Buffer | null;
  /** redirects followed per request (default 5) */
  maxRedirections?: number;
}

/**
 * An undici Agent, or a ProxyAgent when `proxy` is set; `ca` goes to the TLS connect options.
 * Plain http: targets go through an http: proxy as absolute-form requests (as curl and most
 * proxies expect); https: targets are tunnelled with CONNECT.
 */
export function createDispatcher(opts: DispatcherOptions = {}): Dispatcher {
  const tls = opts.ca ? { ca: opts.ca } : undefined;
  const base: Dispatcher = opts.proxy
    ? new ProxyAgent({ uri: opts.proxy, proxyTunnel: false, requestTls: tls, proxyTls: tls })
    : new Agent(tls ? { connect: tls } : {});
  return base.compose(interceptors.redirect({ maxRedirections: opts.maxRedirections ?? 5 }));
}

let shared: Dispatcher | undefined;

/** The dispatcher used when a caller passes none: direct connections, redirects followed. */
export function defaultDispatcher(): Dispatcher {
  shared ??= createDispatcher();
  return shared;
}
