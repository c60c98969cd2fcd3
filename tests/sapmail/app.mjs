// A cloud app as a BTP developer writes one: it sends an EDIFACT APERAK with the SAP Cloud
// SDK's mail client to the destination named on the command line. The SDK does the rest
// as it does on BTP: it reads the service bindings from VCAP_SERVICES, gets the destination
// from the destination service and a token from XSUAA for the connectivity service, and,
// the destination being OnPremise, speaks SOCKS5 method 0x80 (the token and the base64
// Location ID) to the binding's onpremise_proxy_host:onpremise_socks5_proxy_port, which is
// our relay; SMTP then runs through the tunnel to the plant's MTA.
//
//   node app.mjs DESTINATION APERAK_FILE MESSAGE_ID
//
// Prints the SDK's response as JSON, or "error: ..." and exits 1.
import { readFileSync } from 'node:fs';
import { sendMail } from '@sap-cloud-sdk/mail-client';

const [destinationName, aperakFile, messageId] = process.argv.slice(2);
const aperak = readFileSync(aperakFile);

try {
  const [response] = await sendMail({ destinationName }, {
    to: 'aperak@edi.plant.test',
    subject: 'APERAK 4711',
    headers: { 'Message-ID': `<${messageId}>` },
    text: 'APERAK to ORDERS 4711, attached as application/EDIFACT.\n',
    attachments: [{ filename: 'APERAK_4711.edi', content: aperak,
                    contentType: 'application/EDIFACT' }],
  }, { sdkOptions: { parallel: false } });
  if (!response || !response.accepted || response.accepted.length !== 1) {
    console.log(`error: not accepted: ${JSON.stringify(response)}`);
    process.exit(1);
  }
  console.log(JSON.stringify(response));
  process.exit(0);
} catch (e) {
  console.log(`error: ${e.message}${e.cause ? ` (cause: ${e.cause.message})` : ''}`);
  process.exit(1);
}
