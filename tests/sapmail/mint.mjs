// Test fixture: JWTs signed with the test's own keys (node:crypto, no package), for the
// relay's SOCKS5 method 0x80 tests. Used by token_service.mjs and on the command line:
//
//   node mint.mjs KEY.pem ALG CLAIMS_JSON [HEADER_JSON]    prints the compact JWS
//
// ALG: ES256, RS256, or "none" (no signature). CLAIMS_JSON may use "$now+N" / "$now-N" as
// a number's value for times relative to now, e.g. '{"exp":"$now+300"}'.
import { readFileSync } from 'node:fs';
import { createPrivateKey, sign } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function relTimes(claims) {
  const now = Math.floor(Date.now() / 1000);
  const out = {};
  for (const [k, v] of Object.entries(claims)) {
    const m = typeof v === 'string' && v.match(/^\$now([+-]\d+)?$/);
    out[k] = m ? now + Number(m[1] || 0) : v;
  }
  return out;
}

export function mint(keyPem, alg, claims, header = {}) {
  const h = { alg, typ: 'JWT', ...header };
  const input = b64url(JSON.stringify(h)) + '.' + b64url(JSON.stringify(relTimes(claims)));
  if (alg === 'none') {
    return input + '.';
  }
  const key = createPrivateKey(keyPem);
  const sig = alg === 'ES256'
    ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
    : sign('sha256', Buffer.from(input), key);
  return input + '.' + b64url(sig);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [keyFile, alg, claims, header] = process.argv.slice(2);
  process.stdout.write(mint(readFileSync(keyFile), alg, JSON.parse(claims),
                            header ? JSON.parse(header) : {}) + '\n');
}
