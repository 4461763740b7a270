import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import {
  generateSigningKeyPair,
  keyFingerprint,
  parsePublicKey,
  rotationStatement,
  signDetached,
  verifyDetached,
} from '../src/signature.js';
import { ErrorCodes } from '../src/errors.js';

t.test('sign and verify the exact bytes', async (t) => {
  const pair = generateSigningKeyPair();
  const data = Buffer.from('{"format":"patchbay-catalog/1"}');
  const sig = signDetached(data, pair.privateKeyPem);
  t.ok(verifyDetached(data, sig, pair.publicKey));
  const changed = Buffer.from(data);
  changed[3] = changed[3]! ^ 1;
  t.notOk(verifyDetached(changed, sig, pair.publicKey), 'one flipped bit fails');
  t.notOk(verifyDetached(data, sig, generateSigningKeyPair().publicKey), 'another key fails');
  t.notOk(verifyDetached(data, 'AAAA', pair.publicKey), 'a truncated signature fails');
});

t.test('public keys as PEM, SPKI base64 and raw base64 are the same key', async (t) => {
  const pair = generateSigningKeyPair();
  const key = parsePublicKey(pair.publicKey);
  const pem = key.export({ type: 'spki', format: 'pem' }).toString();
  const raw = key.export({ type: 'spki', format: 'der' }).subarray(12).toString('base64');
  t.equal(keyFingerprint(pem), keyFingerprint(pair.publicKey));
  t.equal(keyFingerprint(raw), keyFingerprint(pair.publicKey));
  t.match(keyFingerprint(pair.publicKey), /^[0-9a-f]{16}$/);
});

t.test('unreadable and non-Ed25519 keys are refused naming the key', async (t) => {
  t.throws(() => parsePublicKey('not a key!', 'trust.mirrorKey'), {
    code: ErrorCodes.SIGNATURE,
    message: /trust\.mirrorKey/,
  });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
    type: 'spki',
    format: 'pem',
  });
  t.throws(() => parsePublicKey(rsa.toString(), 'upstream.publicKey'), { message: /rsa key, not Ed25519/ });
});

t.test('a rotation statement names the new key in canonical form', async (t) => {
  const oldPair = generateSigningKeyPair();
  const newPair = generateSigningKeyPair();
  const pem = parsePublicKey(newPair.publicKey).export({ type: 'spki', format: 'pem' }).toString();
  t.same(
    rotationStatement(pem),
    rotationStatement(newPair.publicKey),
    'same statement whatever the encoding',
  );
  const endorsement = signDetached(rotationStatement(newPair.publicKey), oldPair.privateKeyPem);
  t.ok(verifyDetached(rotationStatement(newPair.publicKey), endorsement, oldPair.publicKey));
});
