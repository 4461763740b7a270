// A nodemailer transport that says goodbye: one SMTP connection per message (as nodemailer's
// own SMTP transport), ended with QUIT after the message is accepted. nodemailer 10's SMTP
// transport closes the socket without QUIT, which a Postfix logs as a lost connection.
import type { SentMessageInfo, Transport } from 'nodemailer';
import type MailMessage from 'nodemailer/lib/mailer/mail-message';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface QuittingTransportOptions {
  /** nodemailer's SMTPConnection class (loaded with nodemailer, on first send) */
  Connection: typeof SMTPConnection;
  connection: SMTPConnection.Options;
  auth?: { user: string; pass: string };
}

export function quittingSmtpTransport(opts: QuittingTransportOptions): Transport<SentMessageInfo> {
  return {
    name: 'patchbay-smtp',
    version: '1',
    send(mail: MailMessage<SentMessageInfo>, callback: (err: Error | null, info: SentMessageInfo) => void) {
      const connection = new opts.Connection(opts.connection);
      let finished = false;
      /** set once the server accepted the message: what follows (QUIT, close) cannot undo that */
      let delivered: SentMessageInfo | undefined;
      const finish = (err: Error | null, info?: SentMessageInfo): void => {
        if (finished) return;
        finished = true;
        callback(err, info as SentMessageInfo);
      };
      const fail = (err: Error): void => {
        connection.close();
        if (delivered) finish(null, delivered);
        else finish(err);
      };
      connection.once('error', fail);
      // 'end' can come just before the 'error' that explains it (a failed TLS handshake).
      connection.once('end', () =>
        setImmediate(() => {
          if (delivered) finish(null, delivered);
          else finish(new Error('the SMTP server closed the connection'));
        }),
      );
      const deliver = (): void => {
        const envelope = mail.message.getEnvelope();
        connection.send(envelope, mail.message.createReadStream(), (err, info) => {
          if (err) return fail(err);
          delivered = { ...info, envelope, messageId: mail.message.messageId() };
          // QUIT (the connection closes on the server's 221); the mail is accepted already, so the
          // send resolves now and a queue behind it need not wait for the goodbye.
          connection.quit();
          finish(null, delivered);
        });
      };
      connection.connect((err) => {
        if (err) return fail(err);
        if (!opts.auth) return deliver();
        connection.login(opts.auth, (loginErr) => (loginErr ? fail(loginErr) : deliver()));
      });
    },
  };
}
