// A real Node `ws` client for the TLS tests: opens wss://, subscribes fan-out to one
// type and prints one line per thing that happens, for the test to read:
//   cert <serial>        the server certificate's serial (hex) once the socket opens
//   open                 the WebSocket is open
//   frame <json>         each text frame
//   event <id>           each event's id (after its frame line)
//   error <message>      a connection error (a refused handshake, a bad certificate)
//   close <code>         the socket closed
// It exits 0 once it has seen --events events, 1 on error, close or after --timeout-ms.
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const need = Number(args.events ?? 1);
const options = { ca: readFileSync(args.ca), servername: args.servername ?? 'localhost' };
if (args.cert) options.cert = readFileSync(args.cert);
if (args.key) options.key = readFileSync(args.key);
if (args.token) options.headers = { Authorization: `Bearer ${args.token}` };

const say = (line) => process.stdout.write(line + '\n');
const timer = setTimeout(() => { say('error timeout'); process.exit(1); }, Number(args['timeout-ms'] ?? 20000));
let seen = 0;
const ws = new WebSocket(args.url, options);
ws.on('upgrade', (res) => say(`cert ${res.socket.getPeerCertificate().serialNumber}`));
ws.on('open', () => {
  say('open');
  ws.send(JSON.stringify({ op: 'subscribe', id: 's1', type: args.type ?? 'user.created' }));
});
ws.on('message', (data) => {
  const text = data.toString();
  say(`frame ${text}`);
  const frame = JSON.parse(text);
  if (frame.op !== 'event') return;
  say(`event ${frame.event?.id ?? frame.id}`);
  if (++seen >= need) { clearTimeout(timer); ws.close(1000); process.exitCode = 0; }
});
ws.on('error', (e) => { say(`error ${e.message}`); clearTimeout(timer); process.exitCode = 1; });
ws.on('close', (code) => { say(`close ${code}`); clearTimeout(timer); if (seen < need) process.exitCode = 1; });
