// Loopback helpers shared by the Node end-to-end tests (tests/oidc, tests/e2e).
import * as net from 'node:net';

/**
 * A TCP port on 127.0.0.1, held by a listening socket until release(): the tests must name the
 * gateway's address before it starts (in its config, in the providers' redirect URIs), and a
 * port merely found free could be taken meanwhile by a provider or a test running alongside.
 * Release it just before starting the gateway.
 */
export function reservePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      resolve({ port, release: () => new Promise((done) => { s.close(() => done()); }) });
    });
  });
}
