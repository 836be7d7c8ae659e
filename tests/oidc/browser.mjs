// A tiny scripted "browser" for the SSO tests: HTTP(S) requests without automatic redirects, a
// cookie jar (host-only/domain, path, Secure, Max-Age/Expires, SameSite on cross-site requests,
// the __Host- and __Secure- prefix rules), HTML form parsing and submission, and a driver for the
// test provider's login and consent pages. Every request is bounded in time.

import * as http from 'node:http';
import * as https from 'node:https';

// "localhost" always means 127.0.0.1 here (the gateway and the provider listen there only).
function loopbackLookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options; // eslint-disable-line no-param-reassign
    options = {}; // eslint-disable-line no-param-reassign
  }
  const address = hostname === 'localhost' ? '127.0.0.1' : hostname;
  if (!/^(127\.\d+\.\d+\.\d+|::1)$/.test(address)) {
    return callback(new Error(`refusing non-loopback host ${hostname}`));
  }
  const family = address.includes(':') ? 6 : 4;
  if (options && options.all) return callback(null, [{ address, family }]);
  return callback(null, address, family);
}

const decodeEntities = (s) => s
  .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
  .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
  .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')
  .replace(/&amp;/g, '&');

function attributes(tag) {
  const attrs = {};
  const re = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  const inner = tag.replace(/^<\s*[a-z]+/i, '').replace(/\/?>$/, '');
  let m;
  while ((m = re.exec(inner))) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/** Forms of an HTML page: [{ id, method, action (absolute), fields: {name: value}, buttons }]. */
export function parseForms(html, baseUrl) {
  const forms = [];
  const formRe = /<form\b[^>]*>([\s\S]*?)<\/form>/gi;
  let m;
  while ((m = formRe.exec(html))) {
    const open = /^<form\b[^>]*>/i.exec(m[0])[0];
    const a = attributes(open);
    const fields = {};
    const buttons = [];
    for (const tag of m[1].match(/<(input|button)\b[^>]*>/gi) || []) {
      const t = attributes(tag);
      const isButton = /^<button/i.test(tag) || ['submit', 'image'].includes((t.type || '').toLowerCase());
      if (isButton) {
        if (t.name) buttons.push({ name: t.name, value: t.value ?? '' });
        continue;
      }
      if (!t.name) continue;
      const type = (t.type || 'text').toLowerCase();
      if ((type === 'checkbox' || type === 'radio') && !('checked' in t)) continue;
      fields[t.name] = t.value ?? '';
    }
    forms.push({
      id: a.id || '',
      method: (a.method || 'get').toUpperCase(),
      action: new URL(a.action || baseUrl, baseUrl).href,
      fields,
      buttons,
    });
  }
  return forms;
}

export class Response {
  constructor(url, status, headers, body) {
    this.url = url;
    this.status = status;
    this.headers = headers;
    this.body = body;
  }

  get location() {
    const l = this.headers.location;
    return l === undefined ? undefined : new URL(l, this.url).href;
  }

  get isRedirect() { return [301, 302, 303, 307, 308].includes(this.status); }

  json() {
    try {
      return JSON.parse(this.body);
    } catch {
      throw new Error(`${this.url} answered ${this.status} with non-JSON: ${this.body.slice(0, 300)}`);
    }
  }

  forms() { return parseForms(this.body, this.url); }

  describe() { return `${this.status} ${this.url}${this.location ? ` -> ${this.location}` : ''}\n${this.body.slice(0, 600)}`; }
}

export class Browser {
  /**
   * @param {object} [o]
   * @param {string|Buffer|Array} [o.ca]   trusted CA(s) for HTTPS
   * @param {number} [o.timeoutMs=10000]   per request
   */
  constructor({ ca, timeoutMs = 10000 } = {}) {
    this.ca = ca;
    this.timeoutMs = timeoutMs;
    this.cookies = []; // { name, value, domain, hostOnly, path, secure, expires }
    this.history = [];
  }

  // ---- cookie jar ----

  storeCookies(url, setCookie) {
    for (const line of setCookie || []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        domain: url.hostname,
        hostOnly: true,
        path: null,
        secure: false,
        sameSite: 'lax', // browsers' default when the attribute is missing
        expires: undefined,
        domainAttr: false,
      };
      for (const attr of attrs) {
        const i = attr.indexOf('=');
        const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
        const val = i < 0 ? '' : attr.slice(i + 1).trim();
        if (key === 'max-age' && /^-?\d+$/.test(val)) cookie.expires = Date.now() + Number(val) * 1000;
        else if (key === 'expires' && cookie.expires === undefined) {
          const t = Date.parse(val);
          if (!Number.isNaN(t)) cookie.expires = t;
        } else if (key === 'domain' && val) {
          const d = val.replace(/^\./, '').toLowerCase();
          if (d !== url.hostname && !url.hostname.endsWith(`.${d}`)) { cookie.rejected = true; }
          cookie.domain = d;
          cookie.hostOnly = false;
          cookie.domainAttr = true;
        } else if (key === 'path' && val.startsWith('/')) cookie.path = val;
        else if (key === 'secure') cookie.secure = true;
        else if (key === 'samesite' && /^(strict|lax|none)$/i.test(val)) cookie.sameSite = val.toLowerCase();
      }
      if (cookie.rejected) continue;
      // Cookie name prefixes, as browsers enforce them.
      if (cookie.name.startsWith('__Secure-') && !cookie.secure) continue;
      if (cookie.name.startsWith('__Host-') && (!cookie.secure || cookie.domainAttr || cookie.path !== '/')) continue;
      if (cookie.sameSite === 'none' && !cookie.secure) continue; // as current browsers do
      if (cookie.secure && url.protocol !== 'https:') continue;
      if (cookie.path === null) {
        const dir = url.pathname.slice(0, url.pathname.lastIndexOf('/'));
        cookie.path = dir || '/';
      }
      this.cookies = this.cookies.filter((c) => !(c.name === cookie.name
        && c.domain === cookie.domain && c.path === cookie.path));
      if (cookie.expires === undefined || cookie.expires > Date.now()) this.cookies.push(cookie);
    }
  }

  /**
   * Cookies sent to url. crossSite: the request comes from another site (e.g. the redirect from
   * the provider to the callback): SameSite=Strict cookies are withheld, and Lax ones too unless
   * it is a top-level GET navigation.
   */
  cookiesFor(url, { crossSite = false, method = 'GET' } = {}) {
    const now = Date.now();
    this.cookies = this.cookies.filter((c) => c.expires === undefined || c.expires > now);
    const host = url.hostname;
    return this.cookies.filter((c) => {
      if (crossSite && (c.sameSite === 'strict' || (c.sameSite === 'lax' && method !== 'GET'))) return false;
      if (c.hostOnly ? c.domain !== host : !(host === c.domain || host.endsWith(`.${c.domain}`))) return false;
      if (c.secure && url.protocol !== 'https:') return false;
      const p = url.pathname;
      return p === c.path || (p.startsWith(c.path) && (c.path.endsWith('/') || p[c.path.length] === '/'));
    }).sort((a, b) => b.path.length - a.path.length);
  }

  /** Value of the cookie `name` that would be sent to url (or undefined). */
  cookie(url, name) {
    const c = this.cookiesFor(new URL(url)).find((x) => x.name === name);
    return c && c.value;
  }

  // ---- requests ----

  /**
   * One request, no redirect following. opts: method, headers, form (object, urlencoded body),
   * json (object), body (string|Buffer), cookies (false: send none), crossSite (true: a
   * navigation coming from another site, see cookiesFor).
   */
  request(target, {
    method = 'GET', headers = {}, form, json, body, cookies = true, crossSite = false,
  } = {}) {
    const url = new URL(target);
    const h = { accept: 'text/html,application/json;q=0.9,*/*;q=0.8', ...headers };
    let payload = body;
    if (form !== undefined) {
      payload = new URLSearchParams(form).toString();
      h['content-type'] = 'application/x-www-form-urlencoded';
    } else if (json !== undefined) {
      payload = JSON.stringify(json);
      h['content-type'] = 'application/json';
    }
    if (payload !== undefined) h['content-length'] = Buffer.byteLength(payload);
    if (cookies) {
      const jar = this.cookiesFor(url, { crossSite, method });
      if (jar.length) h.cookie = jar.map((c) => `${c.name}=${c.value}`).join('; ');
    }
    const lib = url.protocol === 'https:' ? https : http;
    const options = {
      method,
      headers: h,
      lookup: loopbackLookup,
      agent: false,
      signal: AbortSignal.timeout(this.timeoutMs),
    };
    if (url.protocol === 'https:') {
      if (this.ca) options.ca = this.ca;
      if (!/^[\d.]+$|^\[/.test(url.hostname)) options.servername = url.hostname;
    }
    return new Promise((resolve, reject) => {
      const req = lib.request(url, options, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          this.storeCookies(url, res.headers['set-cookie']);
          const r = new Response(url.href, res.statusCode, res.headers, Buffer.concat(chunks).toString('utf8'));
          this.history.push(`${method} ${url.href} -> ${r.status}${r.location ? ` ${r.location}` : ''}`);
          resolve(r);
        });
      });
      req.on('error', (err) => reject(new Error(`${method} ${url.href}: ${err.message}`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get(url, opts = {}) { return this.request(url, { ...opts, method: 'GET' }); }

  post(url, opts = {}) { return this.request(url, { ...opts, method: 'POST' }); }

  /** Submits a parsed form, with extra/overriding field values and an optional button. */
  submit(formObj, values = {}, button = undefined) {
    const fields = { ...formObj.fields, ...values };
    if (button) fields[button.name] = button.value;
    if (formObj.method === 'GET') {
      const u = new URL(formObj.action);
      u.search = new URLSearchParams(fields).toString();
      return this.get(u.href);
    }
    return this.post(formObj.action, { form: fields });
  }

  /**
   * Follows redirects (GET) from res while stop(location) is false; at most `max` hops.
   * Returns the last response (a non-redirect, or the redirect whose location stop() accepted).
   */
  async follow(res, { stop = () => false, max = 15 } = {}) {
    let r = res;
    for (let i = 0; r.isRedirect && !stop(r.location); i += 1) {
      if (i >= max) throw new Error(`too many redirects:\n${this.history.join('\n')}`);
      r = await this.get(r.location);
    }
    return r;
  }
}

/**
 * Drives the test provider from a redirect to its authorization endpoint until it redirects to
 * a URL accepted by isCallback (the relying party's redirect_uri): follows redirects, fills the
 * login form (form id "login"), accepts the consent form (form id "consent"). Bounded in steps.
 * Returns the callback URL (string).
 */
export async function completeProviderLogin(browser, authorizationUrl, {
  login, password, isCallback, maxSteps = 20,
}) {
  let r = await browser.get(authorizationUrl);
  for (let step = 0; step < maxSteps; step += 1) {
    if (r.isRedirect) {
      if (isCallback(r.location)) return r.location;
      r = await browser.get(r.location);
      continue;
    }
    if (r.status !== 200) {
      throw new Error(`provider answered ${r.describe()}\nhistory:\n${browser.history.join('\n')}`);
    }
    const forms = r.forms();
    const loginForm = forms.find((f) => f.id === 'login');
    const consentForm = forms.find((f) => f.id === 'consent');
    if (loginForm) r = await browser.submit(loginForm, { login, password });
    else if (consentForm) r = await browser.submit(consentForm);
    else throw new Error(`no login or consent form in ${r.describe()}`);
  }
  throw new Error(`provider interaction did not finish in ${maxSteps} steps:\n${browser.history.join('\n')}`);
}

/** Decodes (without verifying) a compact JWS: { header, payload }. */
export function decodeJwt(jwt) {
  const [h, p] = String(jwt).split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}
