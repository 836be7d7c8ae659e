// End-to-end test of the portal in a real browser (Debian's headless Chromium driven by
// playwright-core): the real gateway serves web/dist (config `web.root`) and the demo accounts;
// an élu logs in through the login page, sees the dashboard's cards, the directorate page, logs
// out, and a reload of / lands on /connexion. A second run at 360 px takes a screenshot of each
// page (into build/e2e-screenshots, or $E2E_OUTPUT). Prints the bytes a cold load of the
// dashboard transfers (budget: < 300 KB compressed).
// Also: axe-core on every page at 1280 and 360 px (no serious or critical violation); the
// keyboard-only path (login, skip link, navigation, logout); logout ending the session in every
// tab; the test plugin `faulty` (its widget hangs for an advisor) leaving the dashboard usable;
// a warm reload of the dashboard (HTML 304, immutable assets not asked again; figures printed).
// "Mon compte": closing another session ends it; "Se déconnecter partout" ends every tab's.
// "Mon organisation": an operator invites a référent, who opens the account from the link and
// finds the organisation's members; axe-core on both pages.
// The operators' page (/exploitation): the plugins and their charts, shown to operators only,
// the chart code fetched by that page alone; axe-core and screenshots at 1280 and 360 px.
//
// Run with ../support/node-test.sh . portal.test.mjs (PASSERELLE_BINARY = gateway binary; default ../../build/dev/bin/passerelle).
// E2E_KEEP=1 keeps the temporary folder.

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import AxeBuilder from '@axe-core/playwright';
import { chromium } from 'playwright-core';
import { reservePort } from '../support/net.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const BINARY = path.resolve(process.env.PASSERELLE_BINARY || path.join(ROOT, 'build/dev/bin/passerelle'));
const MODULES = process.env.PASSERELLE_MODULES || path.resolve(path.dirname(BINARY), '../modules');
const DIST = path.join(ROOT, 'web/dist');
const OUTPUT = path.resolve(process.env.E2E_OUTPUT || path.join(ROOT, 'build/e2e-screenshots'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const READY_TIMEOUT_MS = 15000;
const STEP_TIMEOUT_MS = 10000; // every wait in the browser is bounded by this
const BUDGET_BYTES = 300 * 1024;
const USERNAME = 'elu.angers';
const PASSWORD = 'passerelle-demo';

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });


function gatewayConfig({ port, dir }) {
  const web = `
web:
  root: ${DIST}
  pages: [/, /connexion, /ma-direction, /actualites, /conseils, /offres, /mon-organisation, /mon-compte, /invitation, /exploitation]
`;
  return `demo: true
server:
  listen: 127.0.0.1
  https_port: ${port}
  redirect_http: false
  workers: 1
  handler_timeout: 10s
  shutdown_grace: 1s
tls:
  certificate: ${dir}/dev-cert.pem
  private_key: ${dir}/dev-key.pem
store:
  sqlite: ${dir}/passerelle.db
log:
  level: info
${web}
plugin_dir: ${MODULES}
proxy_upstreams: ["http://127.0.0.1"]
plugins:
  - name: hello
    library: ${MODULES}/libpasserelle-hello.so
    config:
      greeting: "Bonjour Angers"
  - name: directorates
    library: ${MODULES}/libpasserelle-directorates.so
    config:
      data_file: ${ROOT}/config/directorates.yaml
  - name: faulty
    library: ${MODULES}/libpasserelle-faulty.so
  - name: localtis
    library: ${MODULES}/libpasserelle-localtis.so
    config:
      feeds_file: ${ROOT}/config/localtis-feeds.yaml
  - name: conseils
    library: ${MODULES}/libpasserelle-conseils.so
    config:
      settings_file: ${ROOT}/config/conseils.yaml
  - name: offers
    library: ${MODULES}/libpasserelle-offers.so
    config:
      catalogue_file: ${ROOT}/config/offers.yaml
`;
}

/** The gateway, in its own process group; its log lines are kept for failure messages. */
function startGateway(configPath) {
  const lines = [];
  const child = spawn(BINARY, ['--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let exited = null;
  const exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => { exited = { code, signal }; resolve(); });
    child.on('error', (err) => { exited = { error: err.message }; resolve(); });
  });
  for (const s of [child.stdout, child.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (chunk) => lines.push(...chunk.split('\n').filter(Boolean)));
  }
  const kill = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
  process.on('exit', kill);
  return {
    lines,
    tail: (n = 30) => lines.slice(-n).join('\n'),
    async ready() {
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (!lines.some((l) => l.includes('"msg":"ready"'))) {
        if (exited) throw new Error(`gateway exited ${JSON.stringify(exited)}:\n${lines.slice(-30).join('\n')}`);
        if (Date.now() > deadline) throw new Error(`gateway not ready in ${READY_TIMEOUT_MS} ms:\n${lines.slice(-30).join('\n')}`);
        await sleep(25);
      }
    },
    async stop() {
      if (!exited) {
        try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
        await Promise.race([exit, sleep(5000)]);
      }
      kill();
      process.removeListener('exit', kill);
    },
  };
}

const ctx = {};

/** A new browser context (empty cache and cookies) and page, watching requests and the console. */
async function openPage(width, height = 900) {
  const context = await ctx.browser.newContext({
    viewport: { width, height },
    ignoreHTTPSErrors: true, // the test's own CA, unknown to Chromium
    locale: 'fr-FR',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const watch = { offsite: [], consoleErrors: [], failed: [] };
  page.on('response', (r) => {
    if (r.status() >= 400) watch.failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(`${ctx.base}/`) && !r.url().startsWith('data:')) watch.offsite.push(r.url());
  });
  page.on('console', (m) => { if (m.type() === 'error') watch.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => watch.consoleErrors.push(String(e)));
  return { context, page, watch };
}

function assertClean(watch) {
  assert.deepEqual(watch.offsite, [], 'no request to any other host');
  // Expected failures: /api/me before login (401), /auth/providers where the gateway has no such
  // route yet (404). Chromium reports each failed response on the console too.
  const failed = watch.failed.filter((f) => f !== '401 /api/me' && f !== '404 /auth/providers');
  assert.deepEqual(failed, [], 'no other failed response');
  const bad = watch.consoleErrors.filter((t) => !/^Failed to load resource: the server responded/.test(t));
  assert.deepEqual(bad, [], 'no script error and no Content-Security-Policy violation');
}

/** Runs `body`, then closes `context`; a failure carries the gateway's last log lines. */
async function withContext(context, body) {
  try {
    await body();
  } catch (err) {
    err.message += `\n--- gateway log (tail):\n${ctx.gateway.tail()}`;
    throw err;
  } finally {
    await context.close();
  }
}

async function login(page, username = USERNAME) {
  await page.goto(`${ctx.base}/`);
  await page.waitForURL((u) => u.pathname === '/connexion');
  assert.equal(new URL(page.url()).searchParams.get('next'), '/');
  await page.getByLabel('Identifiant').fill(username);
  await page.getByLabel('Mot de passe').fill(PASSWORD);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL((u) => u.pathname === '/');
  await page.locator('.fr-card[data-plugin="hello"]').waitFor();
}

/** axe-core on the page as it is: fails on serious or critical violations, prints the others. */
async function checkAccessibility(page, t, name) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const describe = (v) => `${name}: [${v.impact}] ${v.id} (${v.nodes.length}×) ${v.help}: ` +
    v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ');
  for (const v of violations) t.diagnostic(describe(v));
  const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(blocking.map(describe), [], `${name}: no serious or critical axe violation`);
  return violations.length;
}

/** What has the keyboard focus: tag, id, class, text (trimmed), for assertions and messages. */
function focused(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    return e ? { tag: e.tagName.toLowerCase(), id: e.id, cls: e.className,
      text: (e.textContent || '').trim(), href: e.getAttribute('href') } : null;
  });
}

/** Presses key (Tab or Shift+Tab) until the focused element matches; at most max presses. */
async function tabTo(page, match, { key = 'Tab', max = 30 } = {}) {
  const seen = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press(key);
    const f = await focused(page);
    if (f && match(f)) return seen.length + 1;
    seen.push(f ? `${f.tag}#${f.id}.${f.cls} "${f.text.slice(0, 30)}"` : 'none');
  }
  throw new Error(`not reached with ${max} × ${key}; focus went through:\n${seen.join('\n')}`);
}

async function shot(page, name) {
  fs.mkdirSync(OUTPUT, { recursive: true });
  await page.screenshot({ path: path.join(OUTPUT, `${name}.png`), fullPage: true });
}

describe('the portal in a browser', () => {
  before(async () => {
    assert.ok(fs.existsSync(BINARY), `gateway binary not found: ${BINARY} (set PASSERELLE_BINARY)`);
    assert.ok(fs.existsSync(path.join(DIST, 'index.html')), `${DIST}/index.html missing: run node web/build.mjs`);
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} missing: apt-get install chromium`);
    ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'passerelle-e2e-'));
    execFileSync(path.join(ROOT, 'tools/gen-dev-certs'), [ctx.dir], { stdio: 'ignore', timeout: 30000 });
    const reserved = await reservePort();
    const { port } = reserved;
    const configPath = path.join(ctx.dir, 'passerelle.yaml');
    fs.writeFileSync(configPath, gatewayConfig({ port, dir: ctx.dir }));
    // The communes of the test fixture (Angers among them): the header shows the commune's name.
    const importTerritories = () => execFileSync(BINARY, ['--config', configPath, 'territories',
      'import', path.join(ROOT, 'tests/fixtures/territories')],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60000 });
    importTerritories();
    await reserved.release();
    ctx.gateway = startGateway(configPath);
    await ctx.gateway.ready();
    ctx.base = `https://localhost:${port}`;
    // Chromium trusts the test's certificate by its key: with a certificate error it would not
    // keep responses in its HTTP cache, and the warm-reload test would measure nothing.
    const leaf = new crypto.X509Certificate(fs.readFileSync(path.join(ctx.dir, 'dev-cert.pem')));
    const spki = crypto.createHash('sha256')
      .update(leaf.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    ctx.browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        `--ignore-certificate-errors-spki-list=${spki}`,
        '--disable-component-update', '--disable-sync', '--no-first-run'],
      timeout: 30000,
    });
  }, { timeout: 120000 });

  after(async () => {
    if (ctx.browser) await ctx.browser.close();
    if (ctx.gateway) {
      await ctx.gateway.stop();
      fs.writeFileSync(path.join(ctx.dir, 'gateway.log'), `${ctx.gateway.lines.join('\n')}\n`);
    }
    if (ctx.dir) {
      if (process.env.E2E_KEEP === '1') console.error(`kept ${ctx.dir}`);
      else fs.rmSync(ctx.dir, { recursive: true, force: true });
    }
  }, { timeout: 30000 });

  test('an élu reads the news: the latest on the dashboard, a search on /actualites', { timeout: 60000 }, async () => {
    const { context, page, watch } = await openPage(1280);
    await withContext(context, async () => {
      await login(page);
      const card = page.locator('.fr-card[data-plugin="localtis"]');
      await card.getByRole('heading', { name: /Localtis/ }).waitFor();
      assert.ok(await card.locator('li a[target="_blank"]').count() >= 1);
      await card.getByRole('link', { name: 'Toutes les actualités' }).click();
      await page.waitForURL((u) => u.pathname === '/actualites');
      await page.locator('.fr-card[data-article]').first().waitFor();
      await page.getByLabel('Rechercher dans les actualités').first().fill('financement');
      await page.getByRole('button', { name: 'Rechercher' }).click();
      await page.waitForURL((u) => u.search.includes('q=financement'));
      const first = page.locator('.fr-card[data-article]').first();
      await first.waitFor();
      // The élu of Angers: the regional article (Pays de la Loire) first.
      await first.getByText('Pays de la Loire').waitFor();
      assert.match(await page.getByRole('status').textContent(), /article/);
      await page.getByLabel('Thème').selectOption('finances-locales');
      await page.getByRole('button', { name: 'Rechercher' }).click();
      await page.waitForURL((u) => u.search.includes('theme=finances-locales'));
      await page.locator('.fr-card[data-article]').first().getByText('Finances locales').waitFor();
      await shot(page, 'actualites-1280');
      assertClean(watch);
    });
  });

  test('Territoires Conseils: a small commune asks, the advisor answers, the agent closes', { timeout: 90000 }, async (t) => {
    const subject = `Délai d’instruction d’un permis ${Date.now()}`;
    let others = 0;
    // Angers is too large: told so, in French, with where to turn.
    let { context, page } = await openPage(1280);
    await withContext(context, async () => {
      await login(page, 'elu.angers');
      await page.getByRole('link', { name: 'Conseils' }).first().click();
      await page.waitForURL((u) => u.pathname === '/conseils');
      await page.getByLabel('Objet').fill('Test');
      await page.getByLabel('Votre question').fill('Test');
      await page.getByRole('button', { name: 'Envoyer la demande' }).click();
      await page.getByRole('alert').getByText(/moins de 10000 habitants/).waitFor();
      // With where to turn: the directorate of Angers, asked of the directorates plugin.
      await page.getByRole('alert').getByText(/Direction régionale/).waitFor();
      await page.locator('[data-directorate]').getByRole('link').waitFor();
    });
    // The agent of Tuffalun files a request.
    ({ context, page } = await openPage(1280));
    await withContext(context, async () => {
      await login(page, 'agent.tuffalun');
      await page.goto(`${ctx.base}/conseils`);
      await page.getByLabel('Objet').fill(subject);
      await page.getByLabel('Thème').selectOption('urbanisme');
      await page.getByLabel('Votre question').fill('Quel est le délai d’instruction d’un permis de construire ?');
      others += await checkAccessibility(page, t, '/conseils (requester)');
      await page.getByRole('button', { name: 'Envoyer la demande' }).click();
      await page.waitForURL((u) => u.searchParams.has('demande'));
      await page.getByRole('heading', { name: subject }).waitFor();
      await page.getByText('Déposée', { exact: true }).waitFor();
      // A plan joined to it; a text file is refused, typed from its content.
      const upload = page.getByLabel('Joindre des fichiers');
      await upload.setInputFiles({ name: 'notes.pdf', mimeType: 'application/pdf',
        buffer: Buffer.from('juste du texte\n') });
      await page.getByRole('button', { name: 'Envoyer les fichiers' }).click();
      await page.getByRole('alert').getByText(/n’est pas accepté/).waitFor();
      await upload.setInputFiles({ name: 'plan-de-masse.pdf', mimeType: 'application/pdf',
        buffer: Buffer.from('%PDF-1.4\n%\u00e2\u00e3\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n') });
      await page.getByRole('button', { name: 'Envoyer les fichiers' }).click();
      await page.getByRole('link', { name: /plan-de-masse\.pdf/ }).waitFor();
      others += await checkAccessibility(page, t, '/conseils?demande (requester)');
    });
    // The advisor finds it in the queue, takes it and answers.
    ({ context, page } = await openPage(1280));
    await withContext(context, async () => {
      await login(page, 'conseiller.demo');
      await page.goto(`${ctx.base}/conseils`);
      await page.getByRole('heading', { name: 'Ma file de demandes' }).waitFor();
      others += await checkAccessibility(page, t, '/conseils (advisor)');
      await page.locator('li[data-request]').getByRole('link', { name: subject }).click();
      // The requester's plan, downloaded as a PDF.
      const plan = page.getByRole('link', { name: /plan-de-masse\.pdf/ });
      const download = await page.request.get(new URL(await plan.getAttribute('href'), ctx.base).href);
      assert.equal(download.status(), 200);
      assert.equal(download.headers()['content-type'], 'application/pdf');
      assert.match(download.headers()['content-disposition'], /^attachment; filename="plan-de-masse\.pdf"/);
      await page.getByRole('button', { name: 'Prendre en charge' }).click();
      await page.getByText('Prise en charge', { exact: true }).waitFor();
      await page.getByLabel('Votre réponse').fill('Deux mois pour une maison individuelle (R423-23).');
      others += await checkAccessibility(page, t, '/conseils?demande (advisor)');
      await page.getByRole('button', { name: 'Envoyer la réponse' }).click();
      await page.getByText('Répondue', { exact: true }).waitFor();
      await shot(page, 'conseils-advisor-1280');
      // Published, anonymised: the entry's page.
      await page.getByRole('button', { name: 'Publier la réponse (anonymisée)' }).click();
      await page.waitForURL((u) => u.searchParams.has('reponse'));
      await page.getByText('Deux mois pour une maison individuelle (R423-23).').waitFor();
      others += await checkAccessibility(page, t, '/conseils?reponse');
    });
    // Anyone logged in finds it, in French, without the accents: the operator here.
    ({ context, page } = await openPage(1280));
    await withContext(context, async () => {
      await login(page, 'operateur.demo');
      await page.getByRole('link', { name: 'Conseils' }).first().click();
      await page.getByLabel('Rechercher dans les réponses publiées').fill('delai instruction');
      await page.getByRole('button', { name: 'Rechercher' }).click();
      await page.waitForURL((u) => u.searchParams.get('q') === 'delai instruction');
      await page.getByRole('link', { name: subject }).waitFor();
      others += await checkAccessibility(page, t, '/conseils?q (operator)');
    });
    // The agent reads the answer and closes the request.
    ({ context, page } = await openPage(1280));
    await withContext(context, async () => {
      await login(page, 'agent.tuffalun');
      // The dashboard tells of the answer.
      await page.goto(`${ctx.base}/`);
      await page.locator('[data-news]').getByRole('link', { name: subject }).first().waitFor();
      await page.goto(`${ctx.base}/conseils`);
      // The request in the commune's list (its published answer is listed below too).
      await page.locator('li[data-request]').getByRole('link', { name: subject }).click();
      await page.getByText('Deux mois pour une maison individuelle (R423-23).').waitFor();
      await page.getByRole('button', { name: 'Clore la demande' }).click();
      await page.getByText('Close', { exact: true }).waitFor();
      await shot(page, 'conseils-requester-1280');
    });
    console.log(`axe-core on /conseils: 6 views, ${others} minor or moderate violation(s)`);
  });

  test('Mon organisation: the bank invites a référent, who joins and manages the organisation', { timeout: 90000 }, async (t) => {
    let others = 0;
    let link = '';
    // The operator opens Angers Loire Métropole and invites its first référent (no mail relay
    // here: the page shows the link to pass on).
    let { context, page, watch } = await openPage(1280);
    await withContext(context, async () => {
      await login(page, 'operateur.demo');
      await page.getByRole('link', { name: 'Mon organisation', exact: true }).first().click();
      await page.getByRole('heading', { name: 'Mon organisation', level: 1 }).waitFor();
      await page.getByLabel('Code de l’organisation').fill('244900015');
      await page.getByRole('button', { name: 'Ouvrir' }).click();
      await page.getByRole('heading', { name: 'Membres de CU Angers Loire Métropole (intercommunalité)' }).waitFor();
      await page.getByLabel('Adresse électronique').fill('dgs@alm.invalid');
      await page.locator('#invite-role').selectOption('referent');
      await page.locator('#invite-services').getByText('Offres', { exact: true }).click();
      await page.getByRole('button', { name: 'Inviter' }).click();
      link = await page.locator('.pa-invitation-link code').textContent({ timeout: STEP_TIMEOUT_MS });
      assert.match(link, /\/invitation#[A-Za-z0-9_-]{43}$/);
      // Listed as waiting; a second, mistaken one is withdrawn.
      await page.getByText('dgs@alm.invalid — Référent, jusqu’au').waitFor();
      await page.getByLabel('Adresse électronique').fill('erreur@alm.invalid');
      await page.getByRole('button', { name: 'Inviter' }).click();
      await page.getByRole('button', { name: 'Retirer l’invitation de erreur@alm.invalid' }).click();
      await page.getByText('L’invitation de erreur@alm.invalid est retirée.').waitFor();
      // The notice may come before the list is drawn again: its line goes, then it is counted.
      await page.getByText('erreur@alm.invalid —').waitFor({ state: 'detached', timeout: STEP_TIMEOUT_MS });
      assert.equal(await page.getByText('erreur@alm.invalid —').count(), 0);
      others += await checkAccessibility(page, t, '/mon-organisation (operator)');
      assertClean(watch);
    });
    // The invited person opens the link, creates the account; the link serves once.
    ({ context, page, watch } = await openPage(1280));
    await withContext(context, async () => {
      await page.goto(`${ctx.base}${new URL(link).pathname}${new URL(link).hash}`);
      await page.getByRole('heading', { name: 'Rejoindre votre organisation' }).waitFor();
      others += await checkAccessibility(page, t, '/invitation');
      await page.getByLabel('Nom affiché').fill('Directrice générale (démo)');
      await page.getByLabel('Identifiant').fill('dgs.alm');
      await page.getByLabel('Mot de passe').fill('une phrase de passe solide');
      await page.getByRole('button', { name: 'Créer mon compte' }).click();
      await page.getByText('Votre compte « dgs.alm » est créé.').waitFor();
      assert.equal(new URL(page.url()).hash, '', 'the used token leaves the address bar');
      await page.goto(`${ctx.base}${new URL(link).pathname}${new URL(link).hash}`);
      await page.getByLabel('Nom affiché').fill('Encore');
      await page.getByLabel('Identifiant').fill('encore');
      await page.getByLabel('Mot de passe').fill('une phrase de passe solide');
      await page.getByRole('button', { name: 'Créer mon compte' }).click();
      await page.getByText('Cette invitation a déjà servi ou a expiré').waitFor();
    });
    // The new référent logs in, sees the organisation and its services; their invitations go by
    // mail only, and this gateway has no relay: they are told so.
    ({ context, page, watch } = await openPage(1280));
    await withContext(context, async () => {
      await page.goto(`${ctx.base}/connexion`);
      await page.getByLabel('Identifiant').fill('dgs.alm');
      await page.getByLabel('Mot de passe').fill('une phrase de passe solide');
      await page.getByRole('button', { name: 'Se connecter' }).click();
      await page.waitForURL((u) => u.pathname === '/');
      await page.goto(`${ctx.base}/mon-organisation`);
      await page.getByText('CU Angers Loire Métropole (intercommunalité)', { exact: true }).first().waitFor();
      await page.getByText('Organisation active').waitFor();
      await page.getByRole('heading', { name: 'Directrice générale (démo) — dgs@alm.invalid' }).waitFor();
      await page.getByLabel('Adresse électronique').fill('assistant@alm.invalid');
      await page.getByRole('button', { name: 'Inviter' }).click();
      await page.getByText('aucun envoi n’est configuré : demandez-la à un opérateur').waitFor();
      others += await checkAccessibility(page, t, '/mon-organisation (référent)');
      await shot(page, 'mon-organisation-1280');
      assert.deepEqual(watch.failed, ['409 /api/organisations/244900015/invitations'], 'the refusal only');
      assert.deepEqual(watch.offsite, [], 'no request to any other host');
    });
    console.log(`axe-core on Mon organisation and Invitation: ${others} minor or moderate violation(s)`);
  });

  test('Offres: a small commune sees what it is eligible for and why, and asks to be put in touch', { timeout: 60000 }, async (t) => {
    let others = 0;
    let { context, page } = await openPage(1280);
    await withContext(context, async () => {
      await login(page, 'agent.tuffalun');
      await page.getByRole('link', { name: 'Offres', exact: true }).first().click();
      await page.getByRole('heading', { name: 'Offres pour Tuffalun' }).waitFor();
      // Tuffalun is in the demo sample of Petites villes de demain: eligible, first, with why.
      const first = page.locator('li[data-offer]').first();
      assert.equal(await first.getAttribute('data-offer'), 'petites-villes-de-demain');
      await first.getByText('Éligible', { exact: true }).waitFor();
      await first.getByText('membre du programme Petites villes de demain').waitFor();
      const acv = page.locator('li[data-offer="action-coeur-de-ville"]');
      await acv.getByText('Non éligible').waitFor();
      await acv.getByText('hors du programme Action cœur de ville').waitFor();
      others += await checkAccessibility(page, t, '/offres (agent)');
      // Its intercommunality: the programmes for towns are not for it.
      await page.getByRole('link', { name: 'Voir les offres pour mon intercommunalité' }).click();
      await page.getByRole('heading', { name: 'Offres pour CA Saumur Val de Loire' }).waitFor();
      await page.locator('li[data-offer="petites-villes-de-demain"]').getByText('réservé aux communes').waitFor();
      await page.getByRole('link', { name: 'Voir les offres pour ma commune' }).click();
      await page.getByRole('heading', { name: 'Offres pour Tuffalun' }).waitFor();
      // Put in touch about Edu Prêt: told which directorate; a second click finds the same lead.
      const edu = page.locator('li[data-offer="edu-pret"]');
      for (let i = 0; i < 2; i += 1) {
        await edu.getByRole('button', { name: 'Être mis en relation' }).click();
        await edu.getByText(/Votre demande est transmise à la Direction régionale/).waitFor();
      }
      await page.reload();
      await page.locator('li[data-lead]').first().waitFor();
      assert.equal(await page.locator('li[data-lead]').count(), 1);
      await shot(page, 'offres-1280');
      // The lead becomes a financing request: a draft, completed, a quote joined, sent.
      await page.locator('li[data-lead]').getByRole('button', { name: 'Demande de financement' }).click();
      await page.waitForURL((u) => u.searchParams.has('demande'));
      await page.getByText('Brouillon', { exact: true }).waitFor();
      await page.getByLabel('Le projet').fill('Rénovation énergétique de l’école élémentaire.');
      await page.getByLabel('Montant demandé (euros)').fill('450000');
      await page.getByLabel('Durée (années)').fill('25');
      others += await checkAccessibility(page, t, '/offres?demande (draft)');
      // Saved, the request is read again (and the page drawn anew) before the next step.
      const reread = page.waitForResponse((res) => res.request().method() === 'GET' &&
        res.url().includes('/api/offers/requests/'));
      await page.getByRole('button', { name: 'Enregistrer le brouillon' }).click();
      await reread;
      assert.equal(await page.getByLabel('Montant demandé (euros)').inputValue(), '450000');
      await page.getByLabel('Joindre des documents').setInputFiles({ name: 'devis.pdf', mimeType: 'application/pdf',
        buffer: Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n') });
      await page.getByRole('button', { name: 'Envoyer les documents' }).click();
      await page.getByRole('link', { name: /devis\.pdf/ }).waitFor();
      await page.getByRole('button', { name: 'Transmettre à la direction régionale' }).click();
      await page.getByText('Transmise', { exact: true }).waitFor();
      // Followed on the dashboard.
      await page.goto(`${ctx.base}/`);
      await page.locator('[data-financing]').getByText(/transmise/).waitFor();
    });
    // The bank instructs it, grants it and records the contract.
    ({ context, page } = await openPage(1280));
    await withContext(context, async () => {
      await login(page, 'conseiller.demo');
      await page.goto(`${ctx.base}/offres`);
      await page.getByRole('heading', { name: 'Demandes de financement à instruire' }).waitFor();
      await page.locator('li[data-request]').getByRole('link', { name: /Edu Prêt – Tuffalun/ }).click();
      await page.getByRole('button', { name: 'Prendre en instruction' }).click();
      await page.getByText('En instruction', { exact: true }).waitFor();
      await page.getByLabel('Accordée').check();
      others += await checkAccessibility(page, t, '/offres?demande (advisor)');
      await page.getByRole('button', { name: 'Enregistrer la décision' }).click();
      await page.getByText('Demande accordée').waitFor();
      await page.getByRole('button', { name: 'Contrat signé' }).click();
      await page.getByText('Contrat signé', { exact: true }).first().waitFor();
      await shot(page, 'offres-demande-1280');
    });
    // An operator checks Angers: too large for Petites villes de demain, and told why.
    ({ context, page } = await openPage(1280));
    await withContext(context, async () => {
      await login(page, 'operateur.demo');
      await page.goto(`${ctx.base}/offres`);
      await page.getByLabel('Vérifier l’éligibilité d’une commune').fill('49007');
      await page.getByRole('button', { name: 'Vérifier' }).click();
      await page.getByRole('heading', { name: 'Offres pour Angers' }).waitFor();
      await page.locator('li[data-offer="petites-villes-de-demain"]')
        .getByText(/au-dessus du plafond de 20 000/).waitFor();
      others += await checkAccessibility(page, t, '/offres?commune (operator)');
    });
    console.log(`axe-core on /offres: 4 views, ${others} minor or moderate violation(s)`);
  });

  test('an élu logs in, sees the dashboard and the directorate, logs out', { timeout: 60000 }, async (t) => {
    const { context, page, watch } = await openPage(1280);
    await withContext(context, async () => {
      await login(page);
      const header = page.locator('header');
      await header.getByText('Angers (49007)').first().waitFor();
      const directorates = page.locator('.fr-card[data-plugin="directorates"]');
      await directorates.getByRole('heading', { name: 'Votre direction régionale' }).waitFor();
      await page.locator('.fr-card[data-plugin="hello"]').getByText('Bonjour Angers').waitFor();
      assert.equal(await page.getByText('temporairement indisponible').count(), 0);
      assert.equal(await page.getByRole('link', { name: 'Exploitation' }).count(), 0,
        'the operators\' page is not in an élu\'s navigation');
      await shot(page, 'dashboard-1280');

      // A cold load of the dashboard: a fresh context (empty cache) with the same session.
      const state = await context.storageState();
      const cold = await ctx.browser.newContext({ viewport: { width: 1280, height: 900 },
        ignoreHTTPSErrors: true, storageState: state });
      const coldPage = await cold.newPage();
      coldPage.setDefaultTimeout(STEP_TIMEOUT_MS);
      const cdp = await cold.newCDPSession(coldPage);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      let bytes = 0;
      let requests = 0;
      const apiCalls = [];
      cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; requests += 1; });
      cdp.on('Network.requestWillBeSent', (e) => {
        const u = new URL(e.request.url);
        if (u.pathname.startsWith('/api/')) apiCalls.push(u.pathname);
      });
      await coldPage.goto(`${ctx.base}/`);
      await coldPage.locator('.fr-card[data-plugin="directorates"]').getByRole('heading').waitFor();
      // Time from the start of navigation until the cards are drawn, read in the page (printed,
      // never asserted: wall-clock figures are not a test's business).
      const usableMs = await coldPage.evaluate(() => performance.now());
      await coldPage.waitForLoadState('networkidle');
      const cards = await coldPage.locator('.fr-card[data-plugin]').count();
      await cold.close();
      assert.ok(cards >= 2, `the dashboard shows its cards (${cards})`);
      // The header's two (who is logged in, the commune's name) are the page's, not the cards'.
      const cardCalls = apiCalls.filter((p) => p !== '/api/me' &&
        !p.startsWith('/api/territories/communes/'));
      assert.ok(apiCalls.length - cardCalls.length <= 2, `the header's calls: ${apiCalls.join(', ')}`);
      assert.ok(cardCalls.length <= cards,
        `at most one API call per card: ${cardCalls.length} calls (${cardCalls.join(', ')}) ` +
        `for ${cards} cards`);
      t.diagnostic(`cold load of the dashboard: ${bytes} bytes in ${requests} responses ` +
        `(budget ${BUDGET_BYTES})`);
      console.log(`cold load of the dashboard: ${(bytes / 1024).toFixed(1)} KB transferred ` +
        `in ${requests} responses (budget ${BUDGET_BYTES / 1024} KB); ${cardCalls.length} API ` +
        `call(s) for ${cards} cards, ${apiCalls.length} in all (${apiCalls.join(', ')}); cards drawn ` +
        `${Math.round(usableMs)} ms after navigation start (goal < 1000 ms)`);

      await page.getByRole('link', { name: 'Ma direction', exact: true }).click();
      await page.waitForURL((u) => u.pathname === '/ma-direction');
      await page.getByRole('heading', { name: /Pays de la Loire/ }).waitFor();
      await shot(page, 'ma-direction-1280');

      await page.getByRole('link', { name: 'Mon compte', exact: true }).click();
      await page.getByText('Élu·e').waitFor();
      await shot(page, 'mon-compte-1280');

      // The operators' page, asked for by its address: a message, and no call to its API.
      await page.goto(`${ctx.base}/exploitation`);
      await page.getByText('Cette page est réservée aux opérateurs de la plateforme.').waitFor();

      await page.locator('header').getByRole('button', { name: 'Se déconnecter' }).first().click();
      await page.waitForURL((u) => u.pathname === '/connexion');
      await page.goto(`${ctx.base}/`);
      await page.waitForURL((u) => u.pathname === '/connexion');
      await page.getByRole('heading', { name: 'Connexion à Passerelle' }).waitFor();
      await shot(page, 'connexion-1280');
      assertClean(watch);
    });
  });

  test('the login page shows one button per OpenID provider, ProConnect in its own look', { timeout: 30000 }, async () => {
    const { context, page } = await openPage(1280);
    try {
      // The provider list as GET /auth/providers gives it (answered here by the browser: the
      // test gateway has no provider configured).
      await page.route('**/auth/providers', (route) => route.fulfill({ json: { providers: [
        { name: 'proconnect', display_name: 'ProConnect', start: '/auth/oidc/proconnect/start' },
        { name: 'keycloak', display_name: 'Annuaire de la banque', start: '/auth/oidc/keycloak/start' },
      ] } }));
      await page.goto(`${ctx.base}/connexion?next=%2Fma-direction`);
      const connect = page.locator('button.fr-connect');
      await connect.waitFor();
      assert.match(await connect.innerText(), /S’identifier avec\s*ProConnect/);
      assert.equal(await page.locator('.fr-connect-group form').getAttribute('action'), '/auth/oidc/proconnect/start');
      assert.equal(await page.locator('.fr-connect-group input[name="next"]').inputValue(), '/ma-direction');
      const other = page.getByRole('link', { name: 'Se connecter avec Annuaire de la banque' });
      assert.equal(await other.getAttribute('href'), '/auth/oidc/keycloak/start?next=%2Fma-direction');
      await shot(page, 'connexion-providers-1280');
      await page.setViewportSize({ width: 360, height: 740 });
      await connect.waitFor();
      await shot(page, 'connexion-providers-360');
    } finally {
      await context.close();
    }
  });

  test('a failing widget reads "temporairement indisponible", the others render', { timeout: 30000 }, async () => {
    const { context, page } = await openPage(1280);
    try {
      await login(page);
      // The gateway's answer when one plugin failed or timed out (answered by the browser here;
      // the gateway's own behaviour is covered by its integration tests).
      await page.route('**/api/dashboard', (route) => route.fulfill({ json: { widgets: [
        { plugin: 'hello', widget: { title: 'Hello', text: 'Bonjour' } },
        { plugin: 'news', unavailable: true },
      ] } }));
      await page.reload();
      const failed = page.locator('.fr-card[data-plugin="news"]');
      await failed.getByText('Ce service est temporairement indisponible.').waitFor();
      await page.locator('.fr-card[data-plugin="hello"]').getByText('Bonjour').waitFor();
    } finally {
      await context.close();
    }
  });

  test('every page at 360 px wide, with a screenshot of each', { timeout: 60000 }, async () => {
    const { context, page, watch } = await openPage(360, 740);
    await withContext(context, async () => {
      await page.goto(`${ctx.base}/connexion`);
      await page.getByRole('heading', { name: 'Connexion à Passerelle' }).waitFor();
      await shot(page, 'connexion-360');
      await login(page);
      await page.locator('.fr-card[data-plugin="directorates"]').waitFor();
      await shot(page, 'dashboard-360');
      // The navigation sits behind the menu button at this width.
      await page.getByRole('button', { name: 'Menu' }).click();
      await page.locator('#header-menu').getByRole('link', { name: 'Ma direction', exact: true }).click();
      await page.waitForURL((u) => u.pathname === '/ma-direction');
      await page.getByRole('heading', { name: /Pays de la Loire/ }).waitFor();
      await shot(page, 'ma-direction-360');
      await page.goto(`${ctx.base}/mon-compte`);
      await page.getByText('Élu·e').waitFor();
      await shot(page, 'mon-compte-360');
      // Nothing wider than the screen: no horizontal scrolling.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow} px wider than 360 px`);
      assertClean(watch);
    });
  });

  for (const width of [1280, 360]) {
    const name = `axe-core finds no serious or critical violation on any page at ${width} px`;
    test(name, { timeout: 60000 }, async (t) => {
      const { context, page } = await openPage(width, width === 360 ? 740 : 900);
      try {
        let others = 0;
        await page.goto(`${ctx.base}/connexion`);
        await page.getByRole('heading', { name: 'Connexion à Passerelle' }).waitFor();
        others += await checkAccessibility(page, t, `/connexion @${width}`);
        await login(page);
        await page.locator('.fr-card[data-plugin="directorates"]').waitFor();
        others += await checkAccessibility(page, t, `/ @${width}`);
        if (width === 360) {
          // The navigation, behind the menu button at this width: the open menu too.
          await page.getByRole('button', { name: 'Menu' }).click();
          await page.locator('#header-menu.fr-modal--opened').waitFor();
          others += await checkAccessibility(page, t, `/ (menu open) @${width}`);
        }
        await page.goto(`${ctx.base}/ma-direction`);
        await page.getByRole('heading', { name: /Pays de la Loire/ }).waitFor();
        others += await checkAccessibility(page, t, `/ma-direction @${width}`);
        await page.goto(`${ctx.base}/actualites?q=financement`);
        await page.locator('.fr-card[data-article]').first().waitFor();
        others += await checkAccessibility(page, t, `/actualites @${width}`);
        await page.goto(`${ctx.base}/mon-compte`);
        await page.getByText('Élu·e').waitFor();
        others += await checkAccessibility(page, t, `/mon-compte @${width}`);
        console.log(`axe-core at ${width} px: 5 pages, ${others} minor or moderate violation(s)` +
          (width === 360 ? ' (the open menu too)' : ''));
      } finally {
        await context.close();
      }
    });
  }

  test('keyboard only: log in, skip link, navigation, logout', { timeout: 60000 }, async () => {
    const { context, page } = await openPage(1280);
    await withContext(context, async () => {
      await page.goto(`${ctx.base}/connexion`);
      await page.getByRole('heading', { name: 'Connexion à Passerelle' }).waitFor();
      await tabTo(page, (f) => f.id === 'username');
      await page.keyboard.type(USERNAME);
      await page.keyboard.press('Tab');
      assert.equal((await focused(page)).id, 'password', 'Tab goes on to the password');
      await page.keyboard.type(PASSWORD);
      await page.keyboard.press('Enter');
      await page.waitForURL((u) => u.pathname === '/');
      await page.locator('.fr-card[data-plugin="hello"]').waitFor();

      // A fresh load of the dashboard: the first Tab stop is the skip link to the content.
      await page.reload();
      await page.locator('.fr-card[data-plugin="hello"]').waitFor();
      await page.keyboard.press('Tab');
      const first = await focused(page);
      assert.deepEqual([first.tag, first.href], ['a', '#contenu'],
        `the first Tab stop is the skip link, not ${JSON.stringify(first)}`);
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.activeElement?.id === 'contenu',
        null, { timeout: STEP_TIMEOUT_MS });

      // From the top of the page, Tab reaches the navigation; Enter follows the link.
      await page.reload();
      await page.locator('.fr-card[data-plugin="hello"]').waitFor();
      await tabTo(page, (f) => f.tag === 'a' && f.cls.includes('fr-nav__link')
        && f.text === 'Ma direction');
      await page.keyboard.press('Enter');
      await page.waitForURL((u) => u.pathname === '/ma-direction');
      await page.getByRole('heading', { name: /Pays de la Loire/ }).waitFor();

      // The focus is now on the page's title: the logout button is back up (Shift+Tab).
      await tabTo(page, (f) => f.tag === 'button' && f.text === 'Se déconnecter',
        { key: 'Shift+Tab' });
      await page.keyboard.press('Enter');
      await page.waitForURL((u) => u.pathname === '/connexion');
      await page.goto(`${ctx.base}/`);
      await page.waitForURL((u) => u.pathname === '/connexion');
    });
  });

  test('logout in one tab ends access in the others', { timeout: 30000 }, async () => {
    const { context, page: a } = await openPage(1280);
    try {
      await login(a);
      const b = await context.newPage();
      b.setDefaultTimeout(STEP_TIMEOUT_MS);
      await b.goto(`${ctx.base}/`);
      await b.locator('.fr-card[data-plugin="hello"]').waitFor();
      assert.equal(new URL(b.url()).pathname, '/');

      await a.locator('header').getByRole('button', { name: 'Se déconnecter' }).first().click();
      await a.waitForURL((u) => u.pathname === '/connexion');

      // Tab B's next API call is refused, and its next page load lands on the login page.
      const status = await b.evaluate(async () => (await fetch('/api/dashboard')).status);
      assert.equal(status, 401, 'the other tab\'s session is over');
      await b.goto(`${ctx.base}/`);
      await b.waitForURL((u) => u.pathname === '/connexion');
      await b.getByRole('heading', { name: 'Connexion à Passerelle' }).waitFor();
    } finally {
      await context.close();
    }
  });

  test('Mon compte: close another session, then log out everywhere', { timeout: 60000 }, async () => {
    // An account no other test uses, so that its sessions are the ones opened here.
    const user = 'agent.angers';
    const { context, page: a } = await openPage(1280);
    const other = await openPage(1280);
    try {
      await login(other.page, user); // another browser: a second session
      await login(a, user);
      await a.getByRole('link', { name: 'Mon compte', exact: true }).click();
      await a.waitForURL((u) => u.pathname === '/mon-compte');
      const sessions = a.locator('section[aria-labelledby="mes-sessions"]');
      await sessions.getByText('cette session').waitFor();
      const close = sessions.getByRole('button', { name: /^Fermer la session/ });
      await close.first().waitFor();
      assert.equal(await close.count(), 1, 'one other session to close');
      await close.click();
      await sessions.getByText('La session a été fermée.').waitFor();
      assert.equal(await close.count(), 0);
      const closed = await other.page.evaluate(async () => (await fetch('/api/me')).status);
      assert.equal(closed, 401, 'the closed session no longer works');
      assert.equal(await a.evaluate(async () => (await fetch('/api/me')).status), 200,
        'this one still does');

      // Every tab, of this browser and of another, is logged out by "Se déconnecter partout".
      await login(other.page, user);
      const b = await context.newPage();
      b.setDefaultTimeout(STEP_TIMEOUT_MS);
      await b.goto(`${ctx.base}/`);
      await b.locator('.fr-card[data-plugin="hello"]').waitFor();
      await sessions.getByRole('button', { name: 'Se déconnecter partout' }).click();
      await a.waitForURL((u) => u.pathname === '/connexion');
      for (const [name, tab] of [['another tab', b], ['another browser', other.page], ['this tab', a]]) {
        const status = await tab.evaluate(async () => (await fetch('/api/me')).status);
        assert.equal(status, 401, `${name} is logged out`);
        await tab.goto(`${ctx.base}/`);
        await tab.waitForURL((u) => u.pathname === '/connexion');
      }
      assertClean(other.watch);
    } catch (err) {
      err.message += `\n--- gateway log (tail):\n${ctx.gateway.tail()}`;
      throw err;
    } finally {
      await other.context.close();
      await context.close();
    }
  });

  for (const width of [1280, 360]) {
    test(`an operator sees the plugins and their last hour at ${width} px`, { timeout: 60000 }, async (t) => {
      const { context, page, watch } = await openPage(width, width === 360 ? 740 : 900);
      const assets = [];
      page.on('request', (r) => {
        const u = new URL(r.url());
        if (u.pathname.startsWith('/assets/') && u.pathname.endsWith('.js')) assets.push(u.pathname);
      });
      await withContext(context, async () => {
        await login(page, 'operateur.demo');
        const dashboardScripts = assets.length;
        // Some traffic of a plugin, counted in the minute in progress.
        await page.evaluate(async () => {
          for (let i = 0; i < 5; i += 1) await fetch('/api/hello');
        });
        if (width === 360) await page.getByRole('button', { name: 'Menu' }).click();
        await page.locator('#navigation').getByRole('link', { name: 'Exploitation' }).click();
        await page.waitForURL((u) => u.pathname === '/exploitation');
        await page.getByRole('heading', { name: 'Exploitation', level: 1 }).waitFor();

        const row = page.locator('#table-services tr[data-plugin="hello"]');
        await row.getByText('En service').waitFor();
        const cells = await row.locator('th, td').allInnerTexts();
        assert.equal(cells[0], 'hello');
        assert.match(cells[1], /^\d+\.\d+/, 'a version');
        assert.match(cells[3], /\d{4}/, 'a load date');
        for (const name of ['directorates', 'faulty']) await page.locator(`#table-services tr[data-plugin="${name}"]`).waitFor();

        // Three charts per plugin, drawn (a canvas in each), and their figures as text.
        const hello = page.locator('section[data-group="activite-hello"]');
        await hello.locator('line-chart canvas').nth(2).waitFor();
        assert.equal(await hello.locator('line-chart').count(), 3);
        const said = await hello.locator('figure p').allInnerTexts();
        assert.match(said[0], /requêtes sur la dernière heure/);
        assert.match(said[0], /[1-9]\d* dans la minute en cours|au plus/);
        assert.equal(await hello.locator('table tbody tr').count(), 60, 'every minute in the table');
        await page.locator('section[data-group="activite-passerelle"] line-chart canvas').first().waitFor();

        // The chart code is not the dashboard's: this page fetched scripts of its own.
        assert.ok(assets.length > dashboardScripts, 'the page fetched its own script');
        await shot(page, `exploitation-${width}`);
        if (width === 360) {
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
          assert.ok(overflow <= 0, `the page is ${overflow} px wider than 360 px`);
        }
        // Checked before axe-core runs: to read the charts' shadow roots, axe copies their
        // stylesheets into <style> elements of its own, which the page's CSP refuses (rightly).
        assertClean(watch);
        const minor = await checkAccessibility(page, t, `/exploitation @${width}`);
        console.log(`axe-core on /exploitation at ${width} px: ${minor} minor or moderate ` +
          'violation(s)');
      });
    });
  }

  test('a plugin whose widget hangs leaves the dashboard usable', { timeout: 30000 }, async () => {
    const { context, page } = await openPage(1280);
    await withContext(context, async () => {
      // The faulty plugin's widget never answers for an advisor: the gateway gives up after 3 s
      // and marks it unavailable; the other cards render (bounded by STEP_TIMEOUT_MS).
      await login(page, 'conseiller.demo');
      const faulty = page.locator('.fr-card[data-plugin="faulty"]');
      await faulty.getByText('Ce service est temporairement indisponible.').waitFor();
      await page.locator('.fr-card[data-plugin="hello"]').getByText('Bonjour Angers').waitFor();
      const others = await page.locator('.fr-card:not([data-plugin="faulty"])').count();
      assert.ok(others >= 1, 'the other cards render');
      assert.equal(await page.getByText('temporairement indisponible').count(), 1,
        'only the faulty card is unavailable');
      // Still usable: the navigation works.
      await page.getByRole('link', { name: 'Mon compte', exact: true }).click();
      await page.waitForURL((u) => u.pathname === '/mon-compte');
    });
  });

  test('a warm reload of the dashboard comes from the cache', { timeout: 30000 }, async (t) => {
    const { context: first, page: loginPage } = await openPage(1280);
    const state = await (async () => { await login(loginPage); return first.storageState(); })();
    await first.close();
    // A fresh context (empty cache) with the session: a cold load, then a reload.
    const context = await ctx.browser.newContext({ viewport: { width: 1280, height: 900 },
      ignoreHTTPSErrors: true, storageState: state });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(STEP_TIMEOUT_MS);
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      // Per request: its path, whether the cache answered, and the status on the wire
      // (responseReceived reports a revalidated response as 200; the wire says 304).
      let requests = new Map();
      let bytes = 0;
      const entry = (id) => {
        if (!requests.has(id)) requests.set(id, {});
        return requests.get(id);
      };
      cdp.on('Network.requestWillBeSent', (e) => {
        Object.assign(entry(e.requestId), { path: new URL(e.request.url).pathname, type: e.type });
      });
      cdp.on('Network.requestServedFromCache', (e) => { entry(e.requestId).cached = true; });
      cdp.on('Network.responseReceived', (e) => {
        const r = e.response;
        if (r.fromDiskCache || r.fromPrefetchCache) entry(e.requestId).cached = true;
      });
      cdp.on('Network.responseReceivedExtraInfo', (e) => {
        entry(e.requestId).wire = e.statusCode;
      });
      cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });

      await page.goto(`${ctx.base}/`, { waitUntil: 'networkidle' });
      await page.locator('.fr-card[data-plugin="directorates"]').waitFor();
      const cold = { bytes, requests: requests.size };
      requests = new Map();
      bytes = 0;
      await page.reload({ waitUntil: 'networkidle' });
      await page.locator('.fr-card[data-plugin="directorates"]').waitFor();
      const all = [...requests.values()];
      const notModified = all.filter((r) => r.wire === 304).length;
      const fromCache = all.filter((r) => r.cached && r.wire === undefined).length;
      const assetsOnWire = all.filter((r) => r.path?.startsWith('/assets/')
        && r.wire !== undefined);
      const html = all.find((r) => r.type === 'Document');
      const kb = (n) => (n / 1024).toFixed(1);
      const line = `dashboard: cold load ${kb(cold.bytes)} KB in ${cold.requests} ` +
        `requests; warm reload ${kb(bytes)} KB in ${all.length} requests: ` +
        `${notModified} × 304, ${fromCache} from the cache, ` +
        `${assetsOnWire.length} asset(s) asked of the server, HTML ${JSON.stringify(html)}`;
      t.diagnostic(line);
      console.log(line);
      assert.ok(html, 'the reload loaded the page');
      assert.ok(html.wire === 304 || (html.cached && html.wire === undefined),
        `the HTML came back 304 or from the cache, not ${JSON.stringify(html)}`);
      assert.deepEqual(assetsOnWire.map((r) => r.path), [], 'no immutable asset is asked again');
    } finally {
      await context.close();
    }
  });

  // Last: it removes and adds plugins (and leaves them as it found them).
  test('an operator reloads, removes, adds and relays services from /exploitation', { timeout: 60000 }, async (t) => {
    const { context, page, watch } = await openPage(1280);
    await withContext(context, async () => {
      await login(page, 'operateur.demo');
      await page.goto(`${ctx.base}/exploitation`);
      const hello = page.locator('li[data-manage="hello"]');
      await hello.getByText('libpasserelle-hello.so').waitFor();
      await hello.getByRole('button', { name: 'Recharger hello' }).click();
      await page.getByText('Le service hello est rechargé, sans requête perdue.').waitFor();
      // A removal is confirmed by a second click.
      const faulty = page.locator('li[data-manage="faulty"]');
      await faulty.getByRole('button', { name: 'Retirer faulty' }).click();
      await faulty.getByRole('button', { name: 'Confirmer le retrait faulty' }).click();
      await page.getByText('Le service faulty est retiré.').waitFor();
      await page.locator('li[data-manage="faulty"]').waitFor({ state: 'detached' });
      await page.getByLabel('Nom du service', { exact: true }).fill('faulty');
      await page.getByLabel('Fichier de la bibliothèque').fill('libpasserelle-faulty.so');
      await page.getByRole('button', { name: 'Ajouter', exact: true }).click();
      await page.getByText('Le service faulty est ajouté.').waitFor();
      await page.locator('li[data-manage="faulty"]').waitFor();
      // An existing service relayed: the upstream (on loopback) sees the signed identity, never
      // the session cookie.
      const seen = [];
      const upstream = http.createServer((req, res) => {
        seen.push({ url: req.url, headers: req.headers });
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ dossiers: [] }));
      });
      await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      try {
        await page.getByLabel('Nom du service relayé').fill('urbanisme');
        await page.getByLabel('Adresse du service').fill(
          `http://127.0.0.1:${upstream.address().port}/base`);
        await page.locator('label[for="relais-role-operator"]').click();  // DSFR: the label is what one clicks
        assert.ok(await page.getByLabel('Opérateurs').isChecked());
        await page.getByRole('button', { name: 'Relayer', exact: true }).click();
        await page.getByText('Le service urbanisme est relayé sous /api/urbanisme/.').waitFor();
        const relayed = page.locator('li[data-manage="urbanisme"]');
        await relayed.getByText('service relayé par la passerelle').waitFor();
        const answer = await page.evaluate(async () => {
          const r = await fetch('/api/urbanisme/dossiers?commune=49007');
          return { status: r.status, body: await r.json() };
        });
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.body, { dossiers: [] });
        assert.equal(seen.length, 1);
        assert.equal(seen[0].url, '/base/dossiers?commune=49007');
        assert.equal(seen[0].headers.cookie, undefined, 'the session cookie stays home');
        assert.match(seen[0].headers.authorization, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
        await relayed.getByRole('button', { name: 'Retirer urbanisme' }).click();
        await relayed.getByRole('button', { name: 'Confirmer le retrait urbanisme' }).click();
        await page.getByText('Le service urbanisme est retiré.').waitFor();
      } finally {
        upstream.close();
      }
      // Before axe-core, which copies the charts' styles into elements the CSP refuses.
      assertClean(watch);
      const minor = await checkAccessibility(page, t, '/exploitation (gérer)');
      console.log(`axe-core on /exploitation (gérer): ${minor} minor or moderate violation(s)`);
    });
  });
});
