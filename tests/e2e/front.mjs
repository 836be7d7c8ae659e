// A stand-in for the gateway's static file serving, for gateways built without the `web:`
// config section (PORTAL_E2E_FRONT=1): an HTTPS front that answers the app's pages with
// web/dist/index.html and its assets from web/dist, and passes every other request to the
// gateway unchanged (Host and Origin included, so the gateway's same-origin checks hold).
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';

const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2', '.html': 'text/html; charset=utf-8' };
const PAGES = new Set(['/', '/connexion', '/ma-direction', '/mon-compte']);
const CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

/** Starts the front on 127.0.0.1:port; resolves to the server. */
export function startFront({ port, key, cert, ca, dist, gatewayPort }) {
  const server = https.createServer({ key, cert }, (req, res) => {
    const url = new URL(req.url, 'https://front');
    let file = null;
    if (req.method === 'GET' && PAGES.has(url.pathname)) file = path.join(dist, 'index.html');
    else if (req.method === 'GET' && /^\/assets\/[\w.-]+$/.test(url.pathname)) {
      file = path.join(dist, url.pathname);
    }
    if (file) {
      let body;
      let encoding = null;
      const accepts = String(req.headers['accept-encoding'] || '');
      try {
        if (/\bbr\b/.test(accepts) && fs.existsSync(`${file}.br`)) {
          body = fs.readFileSync(`${file}.br`);
          encoding = 'br';
        } else {
          body = fs.readFileSync(file);
        }
      } catch {
        res.writeHead(404).end();
        return;
      }
      const headers = { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
        'content-security-policy': CSP, 'content-length': body.length };
      if (encoding) headers['content-encoding'] = encoding;
      res.writeHead(200, headers).end(body);
      return;
    }
    const upstream = https.request({ host: '127.0.0.1', port: gatewayPort, method: req.method,
      path: req.url, headers: req.headers, ca, servername: 'localhost', timeout: 10000 },
    (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => { if (!res.headersSent) res.writeHead(502).end(); });
    req.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
