// End-to-end single sign-on through the gateway against real OpenID Providers (oidc-provider):
// authorization code + PKCE as a browser does it (scripted: manual redirects, a cookie jar, HTML
// forms), key rotation, callback misuse (a wrong state, a replayed callback even with its
// sign-in cookie), logout, back-channel logout and the checks of logout tokens (typ, jti replay,
// sid and sub together); then the relying-party variants: client_secret_basic, signed userinfo
// (application/jwt), ES256 ID tokens, an algorithm allow-list that refuses the provider's
// tokens, an issuer written with a terminating "/", and a wrong issuer said at start-up.
//
// Run with ../support/node-test.sh . flow.test.mjs (PASSERELLE_BINARY = gateway binary; default ../../build/dev/bin/passerelle).
// OIDC_TEST_KEEP=1 keeps the temporary folder (config, certificates, database, gateway log).

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startProvider, TEST_USER, TEST_PASSWORD } from './provider.mjs';
import { Browser, completeProviderLogin, decodeJwt } from './browser.mjs';
import { reservePort } from '../support/net.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const BINARY = path.resolve(process.env.PASSERELLE_BINARY || path.join(ROOT, 'build/dev/bin/passerelle'));
const READY_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 5000;
const TEST_TIMEOUT_MS = 60000;
const SESSION_COOKIE = '__Host-passerelle';


const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
// A deadline for Promise.race that does not keep the process alive once the race is over.
const deadline = (ms) => new Promise((r) => { setTimeout(r, ms).unref(); });

// ---- the gateway process ----------------------------------------------------------------------

class Gateway {
  constructor(binary, configPath, env) {
    this.lines = [];
    this.exited = null; // { code, signal }
    // Own process group, so that stopping it also stops anything it started.
    this.child = spawn(binary, ['--config', configPath], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.exitPromise = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => { this.exited = { code, signal }; resolve(this.exited); });
      this.child.on('error', (err) => {
        this.lines.push(`spawn error: ${err.message}`);
        this.exited = { code: -1, signal: null };
        resolve(this.exited);
      });
    });
    this.killOnExit = () => this.signal('SIGKILL');
    this.killOnSignal = (sig) => {
      this.signal('SIGKILL');
      process.exit(sig === 'SIGINT' ? 130 : 143);
    };
    process.on('exit', this.killOnExit);
    process.on('SIGINT', this.killOnSignal);
    process.on('SIGTERM', this.killOnSignal);
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          this.lines.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      });
      stream.on('end', () => { if (buf) this.lines.push(buf); });
    }
  }

  /** Sends sig to the gateway's process group (or the gateway alone). */
  signal(sig) {
    const { pid } = this.child;
    if (!pid) return;
    try {
      process.kill(-pid, sig);
    } catch {
      try { this.child.kill(sig); } catch { /* gone */ }
    }
  }

  async waitForLog(needle, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.lines.some((l) => l.includes(needle))) return;
      if (this.exited) throw new Error(`gateway exited (${JSON.stringify(this.exited)}) before logging ${needle}:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`gateway did not log ${needle} within ${timeoutMs} ms:\n${this.tail()}`);
      await sleep(25);
    }
  }

  tail(n = 40) { return this.lines.slice(-n).join('\n'); }

  async stop() {
    if (!this.exited) {
      this.signal('SIGTERM');
      const t = await Promise.race([this.exitPromise, deadline(STOP_TIMEOUT_MS).then(() => null)]);
      if (!t) {
        this.lines.push(`gateway still running ${STOP_TIMEOUT_MS} ms after SIGTERM: SIGKILL`);
        this.signal('SIGKILL');
        await Promise.race([this.exitPromise, deadline(STOP_TIMEOUT_MS)]);
      }
    }
    this.signal('SIGKILL'); // leftovers of its process group, if any
    this.child.stdout.destroy();
    this.child.stderr.destroy();
    process.removeListener('exit', this.killOnExit);
    process.removeListener('SIGINT', this.killOnSignal);
    process.removeListener('SIGTERM', this.killOnSignal);
  }
}

// ---- fixture ----------------------------------------------------------------------------------

const ctx = {};

function diagnostics(browser) {
  const parts = [];
  if (browser) parts.push(`browser history:\n${browser.history.slice(-25).join('\n')}`);
  for (const [label, op] of Object.entries(ctx.ops || {})) {
    parts.push(`provider ${label} (${op.issuer}) stats: ${JSON.stringify(op.stats)}`);
    if (op.errors.length) parts.push(`provider ${label} errors:\n${op.errors.map((e) => `${e.event}: ${e.error}`).join('\n')}`);
    if (op.backchannel.length) parts.push(`provider ${label} back-channel: ${JSON.stringify(op.backchannel)}`);
  }
  if (ctx.gateway) parts.push(`gateway log (tail):\n${ctx.gateway.tail()}`);
  return `\n---\n${parts.join('\n---\n')}`;
}

/** A test whose failure message carries the browser history, provider events and gateway log. */
function step(name, fn) {
  test(name, { timeout: TEST_TIMEOUT_MS }, async () => {
    const browser = new Browser({ ca: ctx.ca });
    try {
      await fn(browser);
    } catch (err) {
      const d = diagnostics(browser);
      if (err && typeof err === 'object') {
        err.message += d;
        if (typeof err.stack === 'string') err.stack += d; // what the reporter prints
        throw err;
      }
      throw new Error(`${String(err)}${d}`);
    }
  });
}

// The gateway's provider entries (auth.oidc) and, for each, its client at a test provider.
//   op: the provider instance: 'rs' signs with RS256 (ID tokens, logout tokens, signed userinfo),
//       'es' with ES256. Several entries may share an instance, each with its own client.
//   userinfoAlg: the client registers userinfo_signed_response_alg, so userinfo answers a JWT
//       (Content-Type: application/jwt), as ProConnect does.
//   algorithms: the gateway's allow-list for this entry (default: RS256, PS256, ES256).
// Every entry has userinfo: true; the ID tokens carry no scope claim (see provider.mjs), so
// email, names and siret reach /api/me only through userinfo.
const ENTRIES = [
  { name: 'test', op: 'rs', clientId: 'passerelle', clientAuth: 'client_secret_post', backchannel: true },
  // HTTP Basic at the token endpoint; the secret holds characters that RFC 6749 §2.3.1 has the
  // client form-encode before the Basic encoding (':' would otherwise end the client id).
  { name: 'basic', op: 'rs', clientId: 'passerelle-basic', clientAuth: 'client_secret_basic', secretExtra: ':+/%&= ?#' },
  { name: 'signed-userinfo', op: 'rs', clientId: 'passerelle-jwt', clientAuth: 'client_secret_post', userinfoAlg: 'RS256' },
  // ES256 everywhere (ID token and signed userinfo), accepted by an ES256-only allow-list.
  { name: 'es256', op: 'es', clientId: 'passerelle-es', clientAuth: 'client_secret_basic', userinfoAlg: 'ES256', algorithms: ['ES256'] },
  // Negative: only ES256 is accepted but this provider signs with RS256.
  { name: 'es-only', op: 'rs', clientId: 'passerelle-es-only', clientAuth: 'client_secret_post', algorithms: ['ES256'] },
  // A provider whose issuer ends in "/" (OpenID Connect Discovery §4).
  { name: 'slash', op: 'slash', clientId: 'passerelle-slash', clientAuth: 'client_secret_post' },
];
const SIGN_IN_COOKIE = '__Host-passerelle-oidc';

const secretEnv = (entry) => `OIDC_SECRET_${entry.name.toUpperCase().replace(/-/g, '_')}`;

/** The client of entry at its provider (oidc-provider metadata). */
function clientMetadata(entry) {
  return {
    client_id: entry.clientId,
    client_secret: entry.secret,
    redirect_uris: [entry.callback],
    post_logout_redirect_uris: [`${ctx.gw}/`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    // oidc-provider refuses a token request authenticated otherwise than registered.
    token_endpoint_auth_method: entry.clientAuth,
    ...(entry.backchannel ? {
      backchannel_logout_uri: `${ctx.gw}/auth/oidc/${entry.name}/backchannel-logout`,
      backchannel_logout_session_required: true,
    } : {}),
    ...(entry.userinfoAlg ? { userinfo_signed_response_alg: entry.userinfoAlg } : {}),
  };
}

function oidcEntryConfig(entry) {
  return `    - name: ${entry.name}
      issuer: ${ctx.ops[entry.op].issuer}
      client_id: ${entry.clientId}
      client_secret: \${${secretEnv(entry)}}
      client_auth: ${entry.clientAuth}
      scopes: [openid, email, given_name, usual_name, uid, siret, organization_label]
      userinfo: true
      claims:
        email: email
        given_name: given_name
        family_name: usual_name
        siret: siret
      roles:
        - role: agent
          email_domain: angers.fr
${entry.algorithms ? `      algorithms: [${entry.algorithms.join(', ')}]\n` : ''}${entry.name === 'test' ? '      verified_emails: true\n' : ''}`;
}

function gatewayConfig({ gwPort, dir }) {
  return `# written by tests/oidc/flow.test.mjs
server:
  listen: 127.0.0.1
  https_port: ${gwPort}
  redirect_http: false
  public_url: https://localhost:${gwPort}
tls:
  certificate: ${dir}/dev-cert.pem
  private_key: ${dir}/dev-key.pem
store:
  sqlite: ${dir}/gw.db
auth:
  oidc:
${ENTRIES.map(oidcEntryConfig).join('')}    - name: wrong-issuer
      issuer: ${ctx.ops.rs.issuer}/
      client_id: passerelle
      client_secret: not-used
`;
}

// ---- flow helpers ------------------------------------------------------------------------------

/**
 * /auth/oidc/<entry>/start -> provider (login, consent) -> the callback URL (not yet requested).
 * entry: one of ctx.rp (default: the "test" entry).
 */
async function loginAtProvider(browser, entry = ctx.rp.test, next = '/api/me') {
  const start = await browser.get(`${ctx.gw}/auth/oidc/${entry.name}/start?next=${encodeURIComponent(next)}`);
  assert.equal(start.status, 303, `start: ${start.describe()}`);
  const authz = new URL(start.location);
  assert.equal(`${authz.origin}${authz.pathname}`, entry.discovery.authorization_endpoint, 'start redirects to the authorization endpoint');
  const q = authz.searchParams;
  assert.equal(q.get('response_type'), 'code');
  assert.equal(q.get('client_id'), entry.clientId);
  assert.equal(q.get('redirect_uri'), entry.callback);
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge') || '', /^[A-Za-z0-9_-]{43}$/, 'code_challenge is a base64url SHA-256');
  assert.ok(q.get('state'), 'state');
  assert.ok(q.get('nonce'), 'nonce');
  assert.ok((q.get('scope') || '').split(' ').includes('openid'), 'scope has openid');
  const callback = await completeProviderLogin(browser, start.location, {
    login: TEST_USER.email,
    password: TEST_PASSWORD,
    isCallback: (l) => l.startsWith(`${entry.callback}?`),
  });
  const cb = new URL(callback);
  assert.ok(cb.searchParams.get('code'), `callback has a code: ${callback}`);
  assert.equal(cb.searchParams.get('state'), q.get('state'), 'provider returns the state');
  return callback;
}

/**
 * Requests the callback (a navigation coming from the provider, another site: SameSite=Strict
 * cookies are not sent): 303 to next with the session cookie.
 */
async function completeCallback(browser, callback, next = '/api/me') {
  const r = await browser.get(callback, { crossSite: true });
  assert.equal(r.status, 303, `callback: ${r.describe()}`);
  assert.equal(r.location, `${ctx.gw}${next}`, 'callback redirects to next');
  assert.ok(browser.cookie(`${ctx.gw}/`, SESSION_COOKIE), `callback sets ${SESSION_COOKIE}`);
}

async function me(browser) {
  const r = await browser.get(`${ctx.gw}/api/me`, { headers: { accept: 'application/json' } });
  return r;
}

function assertMarie(r, provider = 'test') {
  assert.equal(r.status, 200, `/api/me: ${r.describe()}`);
  assert.match(String(r.headers['content-type']), /application\/json/);
  const body = r.json();
  assert.equal(body.email, TEST_USER.email);
  assert.equal(body.display_name, 'Marie Dupont');
  assert.equal(body.siret, TEST_USER.siret);
  assert.equal(body.provider, provider);
  assert.ok(Array.isArray(body.roles) && body.roles.includes('agent'), `roles has agent: ${JSON.stringify(body.roles)}`);
  assert.equal(typeof body.csrf_token, 'string');
  assert.ok(body.csrf_token.length > 0, 'csrf_token');
  return body;
}

async function fullLogin(browser, entry = ctx.rp.test) {
  const callback = await loginAtProvider(browser, entry);
  await completeCallback(browser, callback);
  return assertMarie(await me(browser), entry.name);
}

/**
 * Signs out of the gateway (POST /auth/logout) and returns the ID token of the session, taken
 * from the id_token_hint of the end_session redirect: { header, payload } (decoded, not verified).
 */
async function logoutIdToken(browser, csrf, entry) {
  const r = await browser.post(`${ctx.gw}/auth/logout`, {
    headers: { origin: ctx.gw, 'x-csrf-token': csrf, accept: 'application/json' },
  });
  assert.equal(r.status, 200, r.describe());
  const { redirect } = r.json();
  assert.ok(String(redirect).startsWith(`${entry.discovery.end_session_endpoint}?`), `redirect to end_session_endpoint: ${redirect}`);
  const hint = new URL(redirect).searchParams.get('id_token_hint');
  assert.ok(hint, 'id_token_hint');
  return decodeJwt(hint);
}

/** The scope claims of TEST_USER, which the ID token must not carry (they come from userinfo). */
function assertNoUserinfoClaims(payload) {
  for (const claim of ['email', 'given_name', 'usual_name', 'siret']) {
    assert.equal(payload[claim], undefined, `the ID token carries no ${claim}`);
  }
}

// ---- the tests ---------------------------------------------------------------------------------

describe('OIDC single sign-on through the gateway', () => {
  before(async () => {
    assert.ok(fs.existsSync(BINARY), `gateway binary not found: ${BINARY} (set PASSERELLE_BINARY)`);
    ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'passerelle-oidc-'));
    execFileSync(path.join(ROOT, 'tools/gen-dev-certs'), [ctx.dir], { stdio: 'ignore', timeout: 30000 });
    ctx.ca = fs.readFileSync(path.join(ctx.dir, 'dev-ca.pem'));

    const reserved = await reservePort(); // held while the providers start on ports of their own
    const gwPort = reserved.port;
    ctx.gw = `https://localhost:${gwPort}`;
    ctx.rp = {};
    for (const e of ENTRIES) {
      const secret = `${crypto.randomBytes(24).toString('base64url')}${e.secretExtra || ''}`;
      ctx.rp[e.name] = { ...e, secret, callback: `${ctx.gw}/auth/oidc/${e.name}/callback` };
    }
    ctx.callback = ctx.rp.test.callback;
    const clientsOf = (op) => Object.values(ctx.rp).filter((e) => e.op === op).map(clientMetadata);

    ctx.ops = {};
    ctx.ops.rs = await startProvider({
      port: 0,
      alg: 'RS256',
      ca: path.join(ctx.dir, 'dev-ca.pem'), // the back-channel POST goes to the gateway over TLS
      clients: clientsOf('rs'),
    });
    ctx.ops.es = await startProvider({ port: 0, alg: 'ES256', clients: clientsOf('es') });
    ctx.ops.slash = await startProvider({ port: 0, alg: 'RS256', issuerSuffix: '/', clients: clientsOf('slash') });
    ctx.provider = ctx.ops.rs; // the provider of the "test" entry
    for (const op of Object.values(ctx.ops)) {
      const discovery = await new Browser().get(`${op.url}/.well-known/openid-configuration`);
      assert.equal(discovery.status, 200);
      op.discoveryDocument = discovery.json();
    }
    for (const e of Object.values(ctx.rp)) e.discovery = ctx.ops[e.op].discoveryDocument;
    ctx.discovery = ctx.rp.test.discovery;

    const configPath = path.join(ctx.dir, 'passerelle.yaml');
    fs.writeFileSync(configPath, gatewayConfig({ gwPort, dir: ctx.dir }));
    const secrets = Object.fromEntries(Object.values(ctx.rp).map((e) => [secretEnv(e), e.secret]));
    // An operator's API token (delegated administration: its invitations) and the territories
    // the organisations are checked against, made before the gateway starts.
    const cli = (args, input) => execFileSync(BINARY, ['--config', configPath, ...args],
      { input, env: { ...process.env, ...secrets }, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60000 }).toString();
    cli(['territories', 'import', path.join(ROOT, 'tests/fixtures/territories')]);
    cli(['users', 'add', 'operateur', '--name', 'Opérateur', '--roles', 'operator'],
      'une phrase de passe solide\n');
    ctx.operatorToken = cli(['tokens', 'create', '--user', 'operateur', '--name', 'flow']).trim();
    await reserved.release();
    ctx.gateway = new Gateway(BINARY, configPath, { ...process.env, ...secrets });
    await ctx.gateway.waitForLog('"msg":"ready"', READY_TIMEOUT_MS);
  }, { timeout: 90000 });

  after(async () => {
    if (ctx.gateway) {
      await ctx.gateway.stop();
      if (ctx.dir) fs.writeFileSync(path.join(ctx.dir, 'gateway.log'), `${ctx.gateway.lines.join('\n')}\n`);
    }
    for (const op of Object.values(ctx.ops || {})) await op.close();
    if (ctx.dir) {
      if (process.env.OIDC_TEST_KEEP === '1') console.error(`kept ${ctx.dir}`);
      else fs.rmSync(ctx.dir, { recursive: true, force: true });
    }
  }, { timeout: 30000 });

  step('login with authorization code + PKCE, then /api/me', async (browser) => {
    const userinfoBefore = ctx.provider.stats.userinfo;
    await fullLogin(browser);
    assert.ok(ctx.provider.stats.userinfo > userinfoBefore, 'the gateway called the userinfo endpoint');
  });

  step('a signing key rotation at the provider: the gateway refetches the JWKS', async (browser) => {
    const jwksBefore = ctx.provider.stats.jwks;
    const kid = await ctx.provider.rotateKeys();
    const jwks = (await new Browser().get(ctx.discovery.jwks_uri)).json();
    assert.equal(jwks.keys[0].kid, kid, 'the new key is published first');
    await fullLogin(browser);
    assert.ok(ctx.provider.stats.jwks > jwksBefore, 'the gateway fetched the JWKS again');
  });

  step('a callback with a wrong state is refused with 400 JSON', async (browser) => {
    const callback = new URL(await loginAtProvider(browser));
    callback.searchParams.set('state', `wrong-${crypto.randomBytes(8).toString('hex')}`);
    const r = await browser.get(callback.href, { headers: { accept: 'application/json' }, crossSite: true });
    assert.equal(r.status, 400, r.describe());
    assert.match(String(r.headers['content-type']), /application\/json/);
    assert.ok(r.json().error, 'an error field');
    assert.equal(browser.cookie(`${ctx.gw}/`, SESSION_COOKIE), undefined, 'no session from a refused callback');
  });

  step('replaying a callback URL is refused with 400', async (browser) => {
    const callback = await loginAtProvider(browser);
    await completeCallback(browser, callback);
    const again = await browser.get(callback, { headers: { accept: 'application/json' }, crossSite: true });
    assert.equal(again.status, 400, again.describe());
  });

  step('a callback replayed with its sign-in cookie is refused: a state serves once', async (browser) => {
    const callback = await loginAtProvider(browser);
    const pending = browser.cookie(`${ctx.gw}/`, SIGN_IN_COOKIE);
    assert.ok(pending, `the start set ${SIGN_IN_COOKIE}`);
    await completeCallback(browser, callback);
    assert.equal(browser.cookie(`${ctx.gw}/`, SIGN_IN_COOKIE), undefined, 'the callback clears the sign-in cookie');
    const again = await browser.get(callback, {
      cookies: false,
      headers: { cookie: `${SIGN_IN_COOKIE}=${pending}`, accept: 'application/json' },
    });
    assert.equal(again.status, 400, again.describe());
    assert.equal(again.json().error.code, 'oidc_state');
    await ctx.gateway.waitForLog('replayed callback', 5000);
    // A forged or altered cookie is refused too.
    const forged = await browser.get(callback, {
      cookies: false,
      headers: { cookie: `${SIGN_IN_COOKIE}=${pending.slice(0, -2)}AA`, accept: 'application/json' },
    });
    assert.equal(forged.status, 400, forged.describe());
  });

  step('logout: 200 with the end_session redirect, then 401', async (browser) => {
    const { csrf_token: csrf } = await fullLogin(browser);
    const r = await browser.post(`${ctx.gw}/auth/logout`, {
      headers: { origin: ctx.gw, 'x-csrf-token': csrf, accept: 'application/json' },
    });
    assert.equal(r.status, 200, r.describe());
    const body = r.json();
    assert.equal(body.logged_out, true);
    assert.ok(body.redirect.startsWith(`${ctx.discovery.end_session_endpoint}?`), `redirect to end_session_endpoint: ${body.redirect}`);
    const hint = new URL(body.redirect).searchParams.get('id_token_hint');
    assert.ok(hint, 'id_token_hint');
    const { payload } = decodeJwt(hint);
    assert.equal(payload.iss, ctx.provider.issuer);
    assert.equal(payload.aud, 'passerelle');
    assert.equal(payload.sub, TEST_USER.sub);

    const after401 = await me(browser);
    assert.equal(after401.status, 401, after401.describe());

    // The browser goes on to the provider, which accepts the id_token_hint and signs out.
    const page = await browser.get(body.redirect);
    assert.equal(page.status, 200, `end_session page: ${page.describe()}`);
    const form = page.forms().find((f) => f.id === 'logout');
    assert.ok(form, 'the provider shows its logout form');
    const done = await browser.submit(form);
    assert.equal(done.status, 303, done.describe());
    const post = new URL(body.redirect).searchParams.get('post_logout_redirect_uri');
    if (post) assert.ok(done.location.startsWith(post), `back to ${post}: ${done.location}`);
  });

  step('back-channel logout from the provider ends the gateway session', async (browser) => {
    await fullLogin(browser);
    const count = ctx.provider.backchannel.length;
    const page = await browser.get(`${ctx.discovery.end_session_endpoint}?client_id=passerelle`);
    assert.equal(page.status, 200, page.describe());
    const form = page.forms().find((f) => f.id === 'logout');
    assert.ok(form, 'the provider shows its logout form');
    const done = await browser.submit(form); // the provider POSTs the logout_token before answering
    assert.equal(done.status, 303, done.describe());
    const result = await ctx.provider.waitForBackchannel(count + 1, 10000);
    assert.equal(result.clientId, 'passerelle');
    assert.ok(result.ok, `the gateway accepted the logout_token: ${result.error}`);
    const r = await me(browser);
    assert.equal(r.status, 401, r.describe());
  });

  step('logout tokens: typ logout+jwt, a jti serves once, sid and sub must both match', async (browser) => {
    await fullLogin(browser);
    const op = ctx.provider;
    const now = Math.floor(Date.now() / 1000);
    const logoutToken = (claims, header = { typ: 'logout+jwt' }) => op.signJwt({
      iss: op.issuer,
      aud: 'passerelle',
      iat: now,
      exp: now + 120,
      jti: crypto.randomBytes(12).toString('base64url'),
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      ...claims,
    }, header);
    const post = (token) => new Browser({ ca: ctx.ca }).post(`${ctx.gw}/auth/oidc/test/backchannel-logout`, {
      form: { logout_token: token },
    });
    // Another session id for this subject: nothing ends.
    let r = await post(logoutToken({ sub: TEST_USER.sub, sid: 'another-session' }));
    assert.equal(r.status, 200, r.describe());
    assert.equal(r.json().sessions_ended, 0);
    assert.equal((await me(browser)).status, 200, 'the session lives on');
    // A token typed for another use is refused, and said so in the log with the right words.
    r = await post(logoutToken({ sub: TEST_USER.sub }, { typ: 'JWT' }));
    assert.equal(r.status, 400, r.describe());
    await ctx.gateway.waitForLog('typ is not logout+jwt', 5000);
    assert.ok(ctx.gateway.lines.some((l) => l.includes('logout token refused') && l.includes('typ is not logout+jwt')),
      'logged as "logout token refused"');
    // The subject alone ends the session; the same token again is a replay.
    const token = logoutToken({ sub: TEST_USER.sub });
    r = await post(token);
    assert.equal(r.status, 200, r.describe());
    assert.ok(r.json().sessions_ended >= 1, r.body);
    assert.equal((await me(browser)).status, 401);
    r = await post(token);
    assert.equal(r.status, 400, r.describe());
    await ctx.gateway.waitForLog('jti already used', 5000);
  });

  // ---- relying-party variants (one gateway entry each, see ENTRIES) ----

  step('client_secret_basic: login through /auth/oidc/basic/start, then /api/me', async (browser) => {
    const op = ctx.ops.rs;
    const basicBefore = op.stats.token_basic;
    await fullLogin(browser, ctx.rp.basic);
    // The client is registered with client_secret_basic, so oidc-provider accepted the code only
    // with HTTP Basic credentials; the counter shows the header was there.
    assert.ok(op.stats.token_basic > basicBefore, 'the token request carried HTTP Basic credentials');
  });

  step('signed userinfo (application/jwt, RS256): the claims only userinfo carries reach /api/me', async (browser) => {
    const op = ctx.ops.rs;
    const jwtBefore = op.stats.userinfo_jwt;
    const { csrf_token: csrf } = await fullLogin(browser, ctx.rp['signed-userinfo']); // email, "Marie Dupont", siret
    assert.ok(op.stats.userinfo_jwt > jwtBefore, 'the provider answered userinfo with a signed JWT');
    const { header, payload } = await logoutIdToken(browser, csrf, ctx.rp['signed-userinfo']);
    assert.equal(header.alg, 'RS256');
    assert.equal(payload.aud, 'passerelle-jwt');
    assertNoUserinfoClaims(payload);
  });

  step('ES256 ID tokens and ES256-signed userinfo, with algorithms: [ES256]', async (browser) => {
    const op = ctx.ops.es;
    const jwtBefore = op.stats.userinfo_jwt;
    const { csrf_token: csrf } = await fullLogin(browser, ctx.rp.es256);
    assert.ok(op.stats.userinfo_jwt > jwtBefore, 'the provider answered userinfo with a signed JWT');
    assert.ok(op.stats.token_basic > 0, 'client_secret_basic here too');
    const { header, payload } = await logoutIdToken(browser, csrf, ctx.rp.es256);
    assert.equal(header.alg, 'ES256', 'the session holds an ES256 ID token');
    assert.equal(payload.iss, op.issuer);
    assert.equal(payload.aud, 'passerelle-es');
    assertNoUserinfoClaims(payload);
  });

  step('algorithms: [ES256] refuses the RS256 ID token: 400 oidc_refused, no session', async (browser) => {
    const entry = ctx.rp['es-only'];
    const tokenBefore = ctx.ops.rs.stats.token;
    const callback = await loginAtProvider(browser, entry);
    const r = await browser.get(callback, { headers: { accept: 'application/json' }, crossSite: true });
    assert.equal(r.status, 400, r.describe());
    assert.match(String(r.headers['content-type']), /application\/json/);
    const { error } = r.json();
    assert.equal(error && error.code, 'oidc_refused', `error code: ${r.body}`);
    assert.match(String(error.message), /RS256/, 'the message names the refused algorithm');
    assert.ok(ctx.ops.rs.stats.token > tokenBefore, 'the refusal comes after the code exchange (ID token check)');
    assert.equal(browser.cookie(`${ctx.gw}/`, SESSION_COOKIE), undefined, 'no session from a refused login');
    const after401 = await me(browser);
    assert.equal(after401.status, 401, after401.describe());
    assert.ok(ctx.gateway.lines.some((l) => l.includes('login refused') && l.includes('"es-only"')),
      'the gateway logs the refusal with the provider name');
  });

  step('an invitation waiting for the verified address is taken at the federated login', async (browser) => {
    const bearer = { authorization: `Bearer ${ctx.operatorToken}`, accept: 'application/json' };
    const invite = await browser.post(`${ctx.gw}/api/organisations/49007/invitations`, {
      headers: bearer, cookies: false,
      json: { email: TEST_USER.email.toUpperCase(), role: 'delegue', services: [] } });
    assert.equal(invite.status, 201, invite.describe());
    assert.equal(invite.json().mailed, false, 'no relay here: the link is answered');
    await fullLogin(browser);
    const body = (await me(browser)).json();
    assert.equal(body.organisation.code, '49007', JSON.stringify(body));
    assert.equal(body.organisation.role, 'delegue');
    assert.equal(body.commune_insee, '49007', 'the commune of the organisation acted for');
    // Used: the invitation's own link is gone, and a later login joins nothing more.
    const accept = await browser.post(`${ctx.gw}${invite.json().accept}`, {
      cookies: false, headers: { origin: ctx.gw, accept: 'application/json' },
      json: { username: 'autre', password: 'une phrase de passe solide', display_name: 'Autre' } });
    assert.equal(accept.status, 410, accept.describe());
    const members = await browser.get(`${ctx.gw}/api/organisations/49007/members`, { headers: bearer, cookies: false });
    assert.equal(members.status, 200, members.describe());
    assert.equal(members.json().members.length, 1);
    assert.match(members.json().members[0].username, /^~\d+$/, 'a federated member, named by its id');
    await ctx.gateway.waitForLog('invitation taken at a federated login', 5000);
  });

  step('an issuer written with a terminating "/" works (Discovery §4)', async (browser) => {
    assert.ok(ctx.ops.slash.issuer.endsWith('/'), ctx.ops.slash.issuer);
    await fullLogin(browser, ctx.rp.slash);
  });

  step('a wrong issuer is said in the log at start-up; the gateway serves, its sign-ins get 502', async (browser) => {
    await ctx.gateway.waitForLog('names another issuer', 10000);
    assert.ok(ctx.gateway.lines.some((l) => l.includes('provider unavailable') && l.includes('"wrong-issuer"')),
      'the log names the provider');
    const r = await browser.get(`${ctx.gw}/auth/oidc/wrong-issuer/start`, { headers: { accept: 'application/json' } });
    assert.equal(r.status, 502, r.describe());
    assert.match(r.json().error.message, /another issuer/);
    await fullLogin(browser); // the other providers are not affected
  });
});
