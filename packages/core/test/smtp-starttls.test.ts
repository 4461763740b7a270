// notify.smtp over STARTTLS to a receiver whose certificate comes from a private CA (as a
// Debian Postfix with its own certificate): refused as self-signed without notify.smtp.tls,
// delivered with tls.ca and tls.servername, minVersion enforced, and every connection ended
// with QUIT. A real smtp-server on 127.0.0.1 with a throwaway openssl CA.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { SMTPServer } from 'smtp-server';
import { makeCertificates } from '../../../test/helpers/certs.js';
import { createSmtpTransport, sendOne, type SendSettings } from '../src/mail-transport.js';
import { ErrorCodes, isPatchbayError } from '../src/errors.js';
import { loadClientConfig, loadServerConfig } from '../src/config.js';

const NAME = 'mail.example.test';

interface Receiver {
  port: number;
  /** commands received, in order (EHLO, STARTTLS, MAIL, RCPT, DATA, QUIT …) */
  commands: string[];
  /** TLS sessions the receiver saw a mail on */
  secureMails: number;
  /** resolves once `count` connections in total have closed */
  closed(count: number): Promise<void>;
}

async function startReceiver(
  t: Test,
  cert: { cert: string; key: string },
  maxVersion?: 'TLSv1.2',
): Promise<Receiver> {
  let closes = 0;
  const waiters: { count: number; resolve: () => void }[] = [];
  const state: Receiver = {
    port: 0,
    commands: [],
    secureMails: 0,
    closed: (count) =>
      new Promise<void>((resolve) => {
        if (closes >= count) resolve();
        else waiters.push({ count, resolve });
      }),
  };
  const record = (fields: unknown): void => {
    const command = (fields as { tnx?: string; command?: string }).command;
    if ((fields as { tnx?: string }).tnx === 'command' && command) state.commands.push(command);
  };
  const quiet = (): void => undefined;
  const server = new SMTPServer({
    secure: false, // plain, then STARTTLS (port 25/587 style)
    key: readFileSync(cert.key),
    cert: readFileSync(cert.cert),
    ...(maxVersion ? { maxVersion } : {}),
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: {
      level: quiet,
      trace: quiet,
      debug: record,
      info: quiet,
      warn: quiet,
      error: quiet,
      fatal: quiet,
      child: () => undefined,
    } as never,
    onClose() {
      closes++;
      for (const w of waiters.filter((w) => closes >= w.count)) w.resolve();
    },
    onData(stream, session, callback) {
      stream.resume();
      stream.on('end', () => {
        if (session.secure) state.secureMails++;
        callback();
      });
    },
  });
  server.on('error', () => undefined); // a refused handshake is the client's to report
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.server.address() as AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return state;
}

function settings(port: number, tls?: NonNullable<SendSettings['smtp']['tls']>): SendSettings {
  return {
    smtp: {
      host: '127.0.0.1',
      port,
      secure: false,
      requireTLS: true,
      timeoutSeconds: 10,
      ...(tls ? { tls } : {}),
    },
    from: 'patchbay@example.test',
    to: ['ops@example.test'],
  };
}

const MAIL = { subject: 'test', text: 'hello', html: '<p>hello</p>' };

async function send(s: SendSettings): Promise<unknown> {
  const transport = createSmtpTransport(s);
  try {
    return await sendOne(transport, s, MAIL);
  } finally {
    transport.close();
  }
}

t.test('STARTTLS with a private CA: notify.smtp.tls', async (t) => {
  const dir = t.testdir();
  const certs = await makeCertificates(dir, `DNS:${NAME}`);
  const rx = await startReceiver(t, certs);

  await t.rejects(
    send(settings(rx.port)),
    /self[- ]signed|unable to verify|certificate/i,
    'without tls.ca: refused',
  );
  t.equal(rx.secureMails, 0);

  const result = (await send(
    settings(rx.port, { ca: certs.ca, servername: NAME, minVersion: 'TLSv1.2' }),
  )) as {
    accepted: string[];
  };
  t.same(result.accepted, ['ops@example.test'], 'delivered');
  t.equal(rx.secureMails, 1, 'over TLS');
  t.ok(rx.commands.includes('STARTTLS'), 'upgraded with STARTTLS');
  await rx.closed(2); // the refused attempt's connection, then this one
  t.equal(rx.commands.at(-1), 'QUIT', `the connection ended with QUIT (${rx.commands.join(' ')})`);

  await t.rejects(
    send(settings(rx.port, { ca: certs.ca })),
    /127\.0\.0\.1|altnames|mail\.example\.test/i,
    'the certificate names mail.example.test, not the IP: servername is needed',
  );

  const err = await send(settings(rx.port, { ca: join(dir, 'missing-ca.pem'), servername: NAME })).catch(
    (e: unknown) => e,
  );
  t.ok(isPatchbayError(err, ErrorCodes.CONFIG), 'an unreadable CA file is a config error');
  t.match((err as Error).message, /notify\.smtp\.tls\.ca .*missing-ca\.pem is unreadable/);
});

t.test('notify.smtp.tls.minVersion is enforced', async (t) => {
  const certs = await makeCertificates(t.testdir(), `DNS:${NAME}`);
  const rx = await startReceiver(t, certs, 'TLSv1.2');
  await t.resolves(send(settings(rx.port, { ca: certs.ca, servername: NAME, minVersion: 'TLSv1.2' })));
  await t.rejects(
    send(settings(rx.port, { ca: certs.ca, servername: NAME, minVersion: 'TLSv1.3' })),
    /version|protocol/i,
    'a receiver that offers only TLS 1.2 is refused with minVersion TLSv1.3',
  );
});

t.test('notify.smtp.tls in the config: ca resolved against the config file, values checked', async (t) => {
  const dir = t.testdir({
    'ok.json': JSON.stringify({
      notify: {
        smtp: {
          host: 'mail.example.test',
          tls: { ca: 'certs/ca.pem', servername: NAME, minVersion: 'TLSv1.3' },
        },
        from: 'a@b.test',
        to: ['c@d.test'],
      },
    }),
    'bad.json': JSON.stringify({
      notify: { smtp: { host: 'h', tls: { minVersion: 'TLSv1' } }, from: 'a@b.test', to: ['c@d.test'] },
    }),
    'client.json': JSON.stringify({
      server: 'http://127.0.0.1:8080',
      notify: { smtp: { host: 'h', tls: { ca: 'ca.pem' } }, from: 'a@b.test', to: ['c@d.test'] },
    }),
  });
  const config = loadServerConfig({ file: join(dir, 'ok.json') });
  t.same(config.notify?.smtp?.tls, {
    ca: join(dir, 'certs/ca.pem'),
    servername: NAME,
    minVersion: 'TLSv1.3',
  });
  t.throws(
    () => loadServerConfig({ file: join(dir, 'bad.json') }),
    /notify\.smtp\.tls\.minVersion|minVersion/,
  );
  t.equal(loadClientConfig({ file: join(dir, 'client.json') }).notify?.smtp?.tls?.ca, join(dir, 'ca.pem'));
});
