// Holds N idle TLS keep-alive connections to a local server, each having served one
// GET /healthz, so that tools/bench can measure the server's memory per idle connection.
// usage: node bench/idle-tls.mjs PORT N [CA_FILE] [LIFETIME_SECONDS]
// Prints "ready N" once every connection is up, then stays until killed (or LIFETIME, 120 s).
import tls from 'node:tls';
import fs from 'node:fs';

const [portArg, countArg, caFile, lifetimeArg] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);
const lifetimeMs = Number(lifetimeArg ?? 120) * 1000;
if (!Number.isInteger(port) || !Number.isInteger(count) || count < 1) {
  console.error('usage: node bench/idle-tls.mjs PORT N [CA_FILE] [LIFETIME_SECONDS]');
  process.exit(2);
}
const host = '127.0.0.1'; // loopback only, whatever the caller passes
const tlsOptions = caFile ? { ca: fs.readFileSync(caFile) } : { rejectUnauthorized: false };

// Opening a few at a time keeps the listen backlog from overflowing: a dropped SYN costs a
// one-second retransmit and would make "ready" slow for no reason.
const kInFlight = 50;
const kPerConnectionMs = 15000;
const sockets = [];
let ready = false;

function fail(message) {
  console.error(`idle-tls: ${message}`);
  process.exit(1);
}

// Resolves once the connection has completed its handshake and read one whole response.
function openOne(index) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, servername: 'localhost', ...tlsOptions });
    let data = '';
    let served = false;
    const timer = setTimeout(() => reject(new Error(`connection ${index}: timed out`)), kPerConnectionMs);
    socket.setEncoding('latin1');
    socket.on('secureConnect', () => {
      socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\n\r\n`);
    });
    socket.on('data', (chunk) => {
      if (served) return; // nothing else is expected on an idle connection
      data += chunk;
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = data.slice(0, end);
      if (!/^HTTP\/1\.1 200 /.test(head)) {
        reject(new Error(`connection ${index}: unexpected response: ${head.split('\r\n')[0]}`));
        return;
      }
      if (/\r\nconnection:\s*close/i.test(head)) {
        reject(new Error(`connection ${index}: server asked to close the connection`));
        return;
      }
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const body = data.slice(end + 4);
      const complete = length ? body.length >= Number(length[1]) : body.endsWith('0\r\n\r\n');
      if (!complete) return;
      served = true;
      clearTimeout(timer);
      resolve(socket);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (!served) reject(new Error(`connection ${index}: ${err.message}`));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!served) reject(new Error(`connection ${index}: closed before its response`));
      else if (ready) console.error(`idle-tls: connection ${index} closed by the server while idle`);
    });
  });
}

setTimeout(() => process.exit(0), lifetimeMs).unref();
// The lifetime timer is unref'd so that it never keeps the process alive on its own; this
// interval does, and is bounded by it.
setInterval(() => {}, 1000);

let next = 0;
async function worker() {
  while (next < count) {
    const index = next++;
    sockets.push(await openOne(index));
  }
}
try {
  await Promise.all(Array.from({ length: Math.min(kInFlight, count) }, worker));
} catch (err) {
  fail(err.message);
}
ready = true;
console.log(`ready ${sockets.length}`);
