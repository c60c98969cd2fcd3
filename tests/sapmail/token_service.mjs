// Test fixture: the two BTP services the SAP Cloud SDK asks before it sends mail through
// the connectivity proxy, small enough to read, on plain HTTP on loopback:
//
//   POST /oauth/token                the XSUAA token endpoint: a client credentials grant
//                                    answered with a JWT signed by the test's key (mint.mjs)
//   GET  /destination-configuration/v1/destinations/NAME
//                                    the destination service: one MAIL destination,
//                                    ProxyType OnPremise, CloudConnectorLocationId
//
//   node token_service.mjs PORT KEY.pem ISS LOCATION MODE_FILE DESTINATION.json
//
// The token for the connectivity service's client carries the relay's location claim
// ("locations": [LOCATION]) and, as XSUAA's client credentials tokens do, the client's id in
// aud (the relay's `jwt-issuer ... aud` names the connectivity binding's clientid). MODE_FILE,
// read at each request, lets the test turn the next tokens bad: "ok", "bad-signature"
// (signed by a key made here), "expired", "other-location", "other-audience" (aud names
// another application of the same identity zone, "sb-app").
// Each request is logged on stdout. The client stays the real SDK: nothing of it is changed.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { mint } from './mint.mjs';

const [port, keyFile, iss, location, modeFile, destFile] = process.argv.slice(2);
const key = readFileSync(keyFile);
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  .export({ type: 'pkcs8', format: 'pem' });
const destination = JSON.parse(readFileSync(destFile, 'utf8'));

function mode() {
  try {
    return readFileSync(modeFile, 'utf8').trim();
  } catch {
    return 'ok';
  }
}

function clientOf(req, body) {
  const basic = (req.headers.authorization || '').match(/^Basic (.+)$/i);
  if (basic) {
    return Buffer.from(basic[1], 'base64').toString().split(':')[0];
  }
  return new URLSearchParams(body).get('client_id');
}

function token(client) {
  const m = mode();
  const claims = {
    iss, client_id: client, cid: client, sub: client, zid: 'provider-zone',
    ext_attr: { zdn: 'provider' }, grant_type: 'client_credentials',
    aud: [m === 'other-audience' ? 'sb-app' : client], iat: '$now', exp: m === 'expired' ? '$now-600' : '$now+600',
    locations: [m === 'other-location' ? 'loc-elsewhere' : location],
  };
  return mint(m === 'bad-signature' ? stranger : key, 'ES256', claims, { kid: 'uaa-1' });
}

createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    console.log(`${req.method} ${url.pathname} mode=${mode()}`);
    if (req.method === 'POST' && url.pathname === '/oauth/token') {
      const client = clientOf(req, body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: token(client), token_type: 'bearer',
                               expires_in: 600, scope: 'uaa.resource' }));
      return;
    }
    const d = url.pathname.match(/^\/destination-configuration\/v1\/destinations\/(.+)$/);
    if (req.method === 'GET' && d && d[1] === destination.Name) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ owner: { SubaccountId: 'sub', InstanceId: null },
                               destinationConfiguration: destination, authTokens: [] }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"ErrorMessage":"not found"}');
  });
}).listen(Number(port), '127.0.0.1', () => console.log(`listening on ${port}`));
