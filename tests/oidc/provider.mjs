// A real OpenID Provider for the gateway's integration tests: oidc-provider on plain HTTP on
// loopback, with in-memory storage, generated signing keys, scripted (browserless) interactions,
// RP-initiated logout and back-channel logout.
//
// As a module:   const op = await startProvider({ port: 0, clients: [...] });
//                op.issuer, op.url, await op.rotateKeys(), op.stats, op.backchannel, await op.close()
//                (several instances may run side by side, e.g. one with RS256 keys, one with ES256)
// Standalone:    node provider.mjs --port 9000 --client-json '{"client_id":"passerelle",...}' \
//                  [--client-json '...'] [--alg RS256|PS256|ES256] [--ca dev-ca.pem] [--claims-in-id-token]
//                prints "ready <issuer>"; SIGUSR2 or the line "rotate" on stdin rotates the signing
//                key and prints "rotated <kid>"; SIGTERM/SIGINT stop it.
//
// Scope -> claims (each ProConnect-like scope yields the claim of the same name):
//   openid -> sub            email -> email              given_name -> given_name
//   usual_name -> usual_name uid -> uid                  siret -> siret
//   organization_label -> organization_label
// With the default conformIdTokenClaims (claimsInIdToken: false) and response_type=code, the
// ID token carries only sub and protocol claims (iss, aud, exp, iat, auth_time, nonce, at_hash,
// sid, amr); the scope claims come from the userinfo endpoint (JSON, or a JWT when the client
// registers userinfo_signed_response_alg).
//
// Interactions (no browser needed), all plain HTML forms (see browser.mjs for a driver):
//   GET  /interaction/:uid          login page (form id="login": fields login, password) or
//                                   consent page (form id="consent", no field to fill)
//   POST /interaction/:uid/login    login = sub or email of an account, password = its password
//                                   (TEST_PASSWORD for the default user); wrong: 401 + the form again
//   POST /interaction/:uid/confirm  grants every requested scope/claim
//   POST /interaction/:uid/abort    denies (the client gets error=access_denied)
// The end_session_endpoint (/session/end) page holds form id="logout" (hidden fields xsrf and
// logout=yes) posting to /session/end/confirm, which sends the back-channel logout tokens.

import { EventEmitter, once } from 'node:events';
import * as crypto from 'node:crypto';
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import Provider from 'oidc-provider';

const generateKeyPair = promisify(crypto.generateKeyPair);

/** The fixed test user (ProConnect-like claims). */
export const TEST_USER = Object.freeze({
  sub: 'user-42',
  email: 'marie.dupont@angers.fr',
  given_name: 'Marie',
  usual_name: 'Dupont',
  uid: '42',
  siret: '21490007800012',
  organization_label: "Commune d'Angers",
});

/** Password of TEST_USER on the login form. */
export const TEST_PASSWORD = 'correct-horse-battery-staple';

/** Scope -> claims it yields (the keys are also the supported scopes). */
export const SCOPE_CLAIMS = Object.freeze({
  openid: ['sub'],
  email: ['email'],
  given_name: ['given_name'],
  usual_name: ['usual_name'],
  uid: ['uid'],
  siret: ['siret'],
  organization_label: ['organization_label'],
});

export const SIGNING_ALGS = ['RS256', 'PS256', 'ES256'];

/** Generates a private signing JWK for alg (RS256, PS256: RSA 2048; ES256: P-256) with a fresh kid. */
export async function generateSigningKey(alg = 'RS256') {
  let pair;
  if (alg === 'RS256' || alg === 'PS256') {
    pair = await generateKeyPair('rsa', { modulusLength: 2048 });
  } else if (alg === 'ES256') {
    pair = await generateKeyPair('ec', { namedCurve: 'P-256' });
  } else {
    throw new Error(`unsupported signing alg ${alg} (one of ${SIGNING_ALGS.join(', ')})`);
  }
  const jwk = pair.privateKey.export({ format: 'jwk' });
  const kid = `${alg.toLowerCase()}-${crypto.randomBytes(9).toString('base64url')}`;
  return { ...jwk, kid, alg, use: 'sig' };
}

const escapeHtml = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

const page = (title, body) => `<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><main>
<h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>
`;

// One store per provider (not the module-wide one of the built-in MemoryAdapter), kept across
// key rotations, which replace the Provider instance.
function memoryAdapterFactory() {
  const storage = new Map(); // key -> { value, expiresAt }
  const now = () => Date.now();
  const get = (key) => {
    const e = storage.get(key);
    if (!e) return undefined;
    if (e.expiresAt && e.expiresAt <= now()) {
      storage.delete(key);
      return undefined;
    }
    return e.value;
  };
  const set = (key, value, expiresIn) => {
    storage.set(key, { value, expiresAt: expiresIn ? now() + expiresIn * 1000 : undefined });
  };
  const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
    'BackchannelAuthenticationRequest']);

  class MemoryAdapter {
    constructor(model) { this.model = model; }

    key(id) { return `${this.model}:${id}`; }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      if (this.model === 'Session') set(`sessionUid:${payload.uid}`, id, expiresIn);
      const { grantId, userCode } = payload;
      if (grantable.has(this.model) && grantId) {
        const list = get(`grant:${grantId}`) || [];
        list.push(key);
        set(`grant:${grantId}`, list, expiresIn);
      }
      if (userCode) set(`userCode:${userCode}`, id, expiresIn);
      set(key, payload, expiresIn);
    }

    async find(id) { return get(this.key(id)); }

    async findByUid(uid) {
      const id = get(`sessionUid:${uid}`);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode) {
      const id = get(`userCode:${userCode}`);
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id) {
      const value = get(this.key(id));
      if (value) value.consumed = Math.floor(now() / 1000);
    }

    async destroy(id) { storage.delete(this.key(id)); }

    async revokeByGrantId(grantId) {
      const list = get(`grant:${grantId}`);
      if (list) list.forEach((key) => storage.delete(key));
      storage.delete(`grant:${grantId}`);
    }
  }
  return MemoryAdapter;
}

// The back-channel logout POST goes to https://localhost:PORT: pin "localhost" to 127.0.0.1 (the
// gateway listens there only) instead of trusting the resolver's order.
function loopbackLookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options; // eslint-disable-line no-param-reassign
    options = {}; // eslint-disable-line no-param-reassign
  }
  if (hostname === 'localhost') {
    if (options && options.all) return callback(null, [{ address: '127.0.0.1', family: 4 }]);
    return callback(null, '127.0.0.1', 4);
  }
  return dns.lookup(hostname, options, callback);
}

function readCa(ca) {
  if (!ca) return undefined;
  const list = Array.isArray(ca) ? ca : [ca];
  return list.map((c) => (String(c).includes('-----BEGIN') ? String(c) : fs.readFileSync(c, 'utf8')));
}

async function readForm(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
}

/**
 * Starts the provider.
 * @param {object} o
 * @param {number} [o.port=0]           0: any free port
 * @param {string} [o.host='127.0.0.1']
 * @param {object[]} [o.clients=[]]     oidc-provider client metadata (client_id, client_secret,
 *   redirect_uris, post_logout_redirect_uris, backchannel_logout_uri,
 *   backchannel_logout_session_required, token_endpoint_auth_method: client_secret_post or
 *   client_secret_basic (default), id_token_signed_response_alg (default: alg), ...)
 * @param {object} [o.claims]           scope -> claim names, merged over SCOPE_CLAIMS
 * @param {object[]} [o.accounts]       accounts: { sub, password, ...claims }; default the test user
 * @param {string} [o.alg='RS256']      signing alg of the generated keys: RS256, PS256 or ES256
 * @param {string|string[]} [o.ca]      PEM text or file(s) trusted for outgoing HTTPS (back-channel)
 * @param {boolean} [o.claimsInIdToken=false] also put the scope claims in the ID token
 * @param {string} [o.issuerSuffix='']  appended to the issuer (e.g. '/': an issuer written with a
 *   terminating slash, as some providers publish it); op.url stays without it
 * @param {boolean} [o.verbose]         log provider errors on stderr (also env OIDC_PROVIDER_DEBUG=1)
 */
export async function startProvider({
  port = 0,
  host = '127.0.0.1',
  clients = [],
  claims = {},
  accounts = [{ ...TEST_USER, password: TEST_PASSWORD }],
  alg = 'RS256',
  ca,
  claimsInIdToken = false,
  issuerSuffix = '',
  verbose = process.env.OIDC_PROVIDER_DEBUG === '1',
} = {}) {
  if (!SIGNING_ALGS.includes(alg)) throw new Error(`unsupported alg ${alg}`);
  const scopeClaims = { ...SCOPE_CLAIMS, ...claims };
  const accountMap = new Map(accounts.map((a) => [a.sub, a]));
  const findLogin = (login) => accountMap.get(login)
    || accounts.find((a) => a.email && a.email.toLowerCase() === String(login).toLowerCase());
  const trusted = readCa(ca);
  const httpsAgent = trusted ? new https.Agent({ ca: trusted, keepAlive: false }) : undefined;
  const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
  const Adapter = memoryAdapterFactory();
  const events = new EventEmitter();
  // Requests per endpoint; token_basic: token requests authenticated with HTTP Basic
  // (client_secret_basic); userinfo_jwt: userinfo answers sent as a signed JWT (application/jwt).
  const stats = {
    discovery: 0, jwks: 0, authorization: 0, token: 0, token_basic: 0, userinfo: 0, userinfo_jwt: 0, end_session: 0,
  };
  const backchannel = []; // { ok, clientId, sub, sid, error }
  const errors = []; // { event, error }
  let keys = [await generateSigningKey(alg)];

  const server = http.createServer();
  server.listen(port, host);
  await once(server, 'listening');
  const actualPort = server.address().port;
  const url = `http://${host}:${actualPort}`;
  const issuer = `${url}${issuerSuffix}`;

  const log = (...args) => { if (verbose) console.error('[op]', ...args); };

  async function findAccount(ctx, id) {
    const account = accountMap.get(id);
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        const { password, ...rest } = account; // eslint-disable-line no-unused-vars
        return { ...rest, sub: id };
      },
    };
  }

  async function logoutSource(ctx, form) {
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(form)[1];
    const action = ctx.oidc.urlFor('end_session_confirm');
    const client = ctx.oidc.client ? ctx.oidc.client.clientId : '';
    ctx.type = 'html';
    ctx.body = page('Déconnexion', `<p>Se déconnecter de ${escapeHtml(ctx.host)}${client ? ` (client ${escapeHtml(client)})` : ''} ?</p>
<form id="logout" method="post" action="${escapeHtml(action)}">
<input type="hidden" name="xsrf" value="${escapeHtml(xsrf)}">
<input type="hidden" name="logout" value="yes">
<button type="submit">Se déconnecter</button>
</form>`);
  }

  async function postLogoutSuccessSource(ctx) {
    ctx.type = 'html';
    ctx.body = page('Déconnecté', '<p id="logged-out">Vous êtes déconnecté.</p>');
  }

  async function renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Erreur', `<pre id="error">${escapeHtml(JSON.stringify(out, null, 2))}</pre>`);
  }

  function build() {
    const provider = new Provider(issuer, {
      adapter: Adapter,
      clients: clients.map((c) => ({ id_token_signed_response_alg: alg, ...c })),
      clientDefaults: {
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: alg,
      },
      claims: scopeClaims,
      conformIdTokenClaims: !claimsInIdToken,
      // Plain HTTP: SameSite=None cookies (the default for the session) would need Secure.
      cookies: {
        keys: cookieKeys,
        long: { httpOnly: true, sameSite: 'lax' },
        short: { httpOnly: true, sameSite: 'lax' },
      },
      findAccount,
      jwks: { keys },
      pkce: { required: () => true, methods: ['S256'] },
      responseTypes: ['code'],
      features: {
        devInteractions: { enabled: false },
        backchannelLogout: { enabled: true },
        rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
        userinfo: { enabled: true },
        jwtUserinfo: { enabled: true },
        revocation: { enabled: true },
        resourceIndicators: { enabled: false },
      },
      interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
      ttl: {
        AccessToken: 3600,
        AuthorizationCode: 60,
        BackchannelAuthenticationRequest: 600,
        ClientCredentials: 600,
        DeviceCode: 600,
        Grant: 86400,
        IdToken: 3600,
        Interaction: 600,
        RefreshToken: 86400,
        Session: 86400,
      },
      renderError,
      httpOptions: (url) => ({
        signal: AbortSignal.timeout(5000),
        agent: url.protocol === 'https:' ? httpsAgent : undefined,
        dnsLookup: loopbackLookup,
      }),
    });
    provider.on('backchannel.success', (ctx, client, sub, sid) => {
      const entry = { ok: true, clientId: client.clientId, sub, sid };
      backchannel.push(entry);
      events.emit('backchannel', entry);
    });
    provider.on('backchannel.error', (ctx, err, client, sub, sid) => {
      const entry = { ok: false, clientId: client.clientId, sub, sid, error: String(err && err.message) };
      backchannel.push(entry);
      events.emit('backchannel', entry);
      log('backchannel.error', entry);
    });
    for (const name of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error',
      'end_session.error', 'jwks.error', 'discovery.error', 'introspection.error', 'revocation.error']) {
      provider.on(name, (ctx, err) => {
        errors.push({ event: name, error: `${err && err.name}: ${err && err.message}${err && err.error_description ? ` (${err.error_description})` : ''}` });
        log(name, err);
      });
    }
    return { provider, handler: provider.callback() };
  }

  let current = build();

  async function interactions(req, res, url) {
    const m = /^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/.exec(url.pathname);
    const send = (status, html) => {
      res.writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(html);
    };
    if (!m) return send(404, page('Introuvable', '<p>not found</p>'));
    const [, uid, action] = m;
    const { provider } = current;
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      return send(400, page('Erreur', `<pre id="error">${escapeHtml(err.message)}</pre>`));
    }
    if (details.uid !== uid) return send(400, page('Erreur', '<pre id="error">interaction mismatch</pre>'));
    const { prompt, params } = details;

    const loginPage = (error, login = params.login_hint || '') => page('Connexion', `${error ? `<p id="error">${escapeHtml(error)}</p>` : ''}
<form id="login" method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Identifiant <input type="text" name="login" value="${escapeHtml(login)}" autocomplete="username"></label>
<label>Mot de passe <input type="password" name="password" value="" autocomplete="current-password"></label>
<button type="submit">Se connecter</button>
</form>
<form id="abort" method="post" action="/interaction/${escapeHtml(uid)}/abort"><button type="submit">Annuler</button></form>`);

    if (!action && req.method === 'GET') {
      if (prompt.name === 'login') return send(200, loginPage());
      if (prompt.name === 'consent') {
        const scopes = [...new Set([
          ...(prompt.details.missingOIDCScope || []),
          ...(prompt.details.missingOIDCClaims || []),
        ])];
        return send(200, page('Autorisation', `<p>Le service <b>${escapeHtml(params.client_id)}</b> demande : <span id="scopes">${escapeHtml(scopes.join(' '))}</span></p>
<form id="consent" method="post" action="/interaction/${escapeHtml(uid)}/confirm">
<button type="submit">Autoriser</button>
</form>
<form id="abort" method="post" action="/interaction/${escapeHtml(uid)}/abort"><button type="submit">Refuser</button></form>`));
      }
      return send(500, page('Erreur', `<pre id="error">unknown prompt ${escapeHtml(prompt.name)}</pre>`));
    }
    if (req.method !== 'POST') return send(405, page('Erreur', '<pre id="error">method not allowed</pre>'));
    const form = await readForm(req);

    if (action === 'login') {
      if (prompt.name !== 'login') return send(400, page('Erreur', '<pre id="error">not a login prompt</pre>'));
      const account = findLogin(form.login || '');
      if (!account || !form.password || form.password !== account.password) {
        return send(401, loginPage('Identifiant ou mot de passe incorrect.', form.login));
      }
      return provider.interactionFinished(req, res, {
        login: { accountId: account.sub, amr: ['pwd'] },
      }, { mergeWithLastSubmission: false });
    }

    if (action === 'confirm') {
      if (prompt.name !== 'consent') return send(400, page('Erreur', '<pre id="error">not a consent prompt</pre>'));
      const { details: missing } = prompt;
      let { grantId } = details;
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      if (missing.missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
      }
      const saved = await grant.save();
      const consent = {};
      if (!grantId) {
        grantId = saved;
        consent.grantId = grantId;
      }
      return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
    }

    // abort
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }

  server.on('request', (req, res) => {
    const url = new URL(req.url, issuer);
    const p = url.pathname;
    if (p === '/.well-known/openid-configuration') {
      stats.discovery += 1;
    } else if (p === '/jwks') {
      stats.jwks += 1;
    } else if (p === '/auth' || p.startsWith('/auth/')) {
      stats.authorization += 1;
    } else if (p === '/token') {
      stats.token += 1;
      if (/^basic\s/i.test(req.headers.authorization || '')) stats.token_basic += 1;
    } else if (p === '/me') {
      stats.userinfo += 1;
      res.on('finish', () => {
        if (/^application\/jwt\b/i.test(String(res.getHeader('content-type') || ''))) stats.userinfo_jwt += 1;
      });
    } else if (p.startsWith('/session/end')) {
      stats.end_session += 1;
    }
    if (p.startsWith('/interaction/')) {
      interactions(req, res, url).catch((err) => {
        errors.push({ event: 'interaction', error: String(err && err.stack) });
        log('interaction', err);
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('interaction error');
        } else {
          res.destroy();
        }
      });
      return;
    }
    current.handler(req, res);
  });

  return {
    issuer,
    url,
    port: actualPort,
    events,
    stats,
    backchannel,
    errors,
    /** The current oidc-provider instance (replaced by rotateKeys). */
    get provider() { return current.provider; },
    /** Public JWKS currently served. */
    get jwks() {
      return { keys: keys.map(({ kty, kid, alg: a, use, n, e, crv, x, y }) => JSON.parse(JSON.stringify({ kty, kid, alg: a, use, n, e, crv, x, y }))) };
    },
    /** Kid of the key that signs the next tokens. */
    get kid() { return keys[0].kid; },
    /**
     * New signing key with a new kid, first in the JWKS (so it signs every next token). The
     * previous key stays published (to verify id_token_hint of older sessions) unless
     * keepPrevious is false. Sessions, grants and clients are kept. Returns the new kid.
     */
    async rotateKeys({ keepPrevious = true } = {}) {
      const fresh = await generateSigningKey(alg);
      keys = keepPrevious ? [fresh, keys[0]] : [fresh];
      current = build();
      return fresh.kid;
    },
    /**
     * A compact JWS of payload signed with the current key (header: alg, kid, plus `header`),
     * to play tokens the provider would not send on its own (e.g. a replayed logout token).
     */
    signJwt(payload, header = {}) {
      const { kid, alg: _alg, use: _use, ...jwk } = keys[0]; // eslint-disable-line no-unused-vars
      const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const input = Buffer.from(`${b64({ alg, kid, ...header })}.${b64(payload)}`);
      const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
      const options = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' }
        : alg === 'PS256' ? { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
          : key;
      return `${input}.${crypto.sign('sha256', input, options).toString('base64url')}`;
    },
    /** Waits (bounded) until the n-th back-channel result exists; resolves to it. */
    async waitForBackchannel(n = 1, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      while (backchannel.length < n) {
        if (Date.now() > deadline) throw new Error(`no back-channel logout result after ${timeoutMs} ms`);
        await new Promise((r) => { setTimeout(r, 20); });
      }
      return backchannel[n - 1];
    },
    async close() {
      await new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      if (httpsAgent) httpsAgent.destroy();
    },
  };
}

// ---- standalone ------------------------------------------------------------------------------

function parseArgs(argv) {
  const out = { clients: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      i += 1;
      return argv[i];
    };
    if (a === '--port') out.port = Number(value());
    else if (a === '--host') out.host = value();
    else if (a === '--client-json') {
      const parsed = JSON.parse(value());
      out.clients.push(...(Array.isArray(parsed) ? parsed : [parsed]));
    } else if (a === '--alg') out.alg = value();
    else if (a === '--ca') out.ca = value();
    else if (a === '--claims-in-id-token') out.claimsInIdToken = true;
    else if (a === '--verbose') out.verbose = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return out;
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url))) {
  let op;
  try {
    op = await startProvider(parseArgs(process.argv.slice(2)));
  } catch (err) {
    console.error(`provider: ${err.message}`);
    process.exit(2);
  }
  const rotate = () => op.rotateKeys().then((kid) => console.log(`rotated ${kid}`));
  process.on('SIGUSR2', rotate);
  process.stdin.setEncoding('utf8');
  let buffered = '';
  process.stdin.on('data', (chunk) => {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line === 'rotate') rotate();
    }
  });
  process.stdin.on('error', () => {});
  const stop = () => op.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log(`ready ${op.issuer}`);
}
