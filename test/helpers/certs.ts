// A throwaway CA and a server certificate for 127.0.0.1, made with openssl at test run time.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export /** A CA and a leaf for 127.0.0.1 (subjectAltName IP:127.0.0.1, or `san`) signed by it. */
async function makeCertificates(
  dir: string,
  san = 'IP:127.0.0.1',
): Promise<{ ca: string; cert: string; key: string }> {
  const p = (name: string): string => join(dir, name);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=patchbay test CA',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    p('server.key'),
    '-out',
    p('server.csr'),
  ]);
  await writeFile(p('leaf.ext'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.pem'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    p('leaf.ext'),
    '-out',
    p('server.pem'),
  ]);
  return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key') };
}
