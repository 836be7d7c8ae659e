// The portal's entry: a small client-side router on location.pathname (History API links),
// the page frame, and the pages. Every page URL is answered by the gateway with index.html.
import { ApiError } from './api.js';
import { alert, h } from './dom.js';
import { frame } from './layout.js';
import { communeLabel, currentUser, logout } from './session.js';
import { loginPage } from './pages/login.js';
import { dashboardPage } from './pages/dashboard.js';
import { directoratePage } from './pages/directorate.js';
import { newsPage } from './pages/news.js';
import { conseilsPage } from './pages/conseils.js';
import { offersPage } from './pages/offers.js';
import { accountPage } from './pages/account.js';
import { organisationPage } from './pages/organisation.js';
import { invitationPage } from './pages/invitation.js';

// A page whose code (with what it alone needs: the charts of /exploitation) is fetched when it
// opens, so that the other pages do not carry it.
function lazyPage(load, name) {
  return async (main, ctx) => {
    let page;
    try {
      page = (await load())[name];
    } catch {
      main.append(alert('error', 'La page n’a pas pu être chargée. Rechargez-la.'));
      return;
    }
    await page(main, ctx);
  };
}

// path -> { title, render(main, ctx), public: no sign-in needed }
const ROUTES = {
  '/connexion': { title: 'Connexion', render: loginPage, public: true },
  '/': { title: 'Tableau de bord', render: dashboardPage },
  '/ma-direction': { title: 'Ma direction', render: directoratePage },
  '/actualites': { title: 'Actualités', render: newsPage },
  '/conseils': { title: 'Demandes de conseil', render: conseilsPage },
  '/offres': { title: 'Offres', render: offersPage },
  '/mon-compte': { title: 'Mon compte', render: accountPage },
  '/mon-organisation': { title: 'Mon organisation', render: organisationPage },
  '/invitation': { title: 'Invitation', render: invitationPage, public: true },
  '/exploitation': { title: 'Exploitation',
    render: lazyPage(() => import('./pages/operations.js'), 'operationsPage') },
};

const app = document.getElementById('app');
let rendering = 0; // the latest navigation wins over a slower earlier one
let firstPage = true; // the focus moves to the title on later pages only

/** Goes to path (a path of this site) without reloading when the app knows it. */
export function navigate(path, { replace = false } = {}) {
  const url = new URL(path, location.origin);
  if (url.origin !== location.origin || !ROUTES[url.pathname]) {
    location.assign(url.href);
    return;
  }
  if (replace) history.replaceState(null, '', url.pathname + url.search);
  else history.pushState(null, '', url.pathname + url.search);
  render();
}

async function doLogout() {
  try {
    navigate(await logout());
  } catch (err) {
    const main = document.getElementById('contenu');
    if (main) main.prepend(alert('error', err.message));
  }
}

function show(root, title, main) {
  document.title = `${title} - Passerelle`;
  app.replaceChildren(root);
  // Moves the focus to the page's title so that keyboard and screen-reader users start there.
  const heading = main.querySelector('h1');
  if (firstPage) firstPage = false;
  else if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
}

async function render() {
  const ticket = ++rendering;
  const path = location.pathname;
  const route = ROUTES[path];
  if (!route) {
    const { root, main } = frame({ user: null, current: path });
    main.append(h('h1', {}, 'Page non trouvée'),
      h('p', {}, 'Cette adresse ne correspond à aucune page du portail.'),
      h('a', { class: 'fr-link', href: '/', 'data-link': true }, 'Retour au tableau de bord'));
    show(root, 'Page non trouvée', main);
    return;
  }
  const ctx = { navigate, logout: doLogout, params: new URLSearchParams(location.search),
    user: null };
  if (!route.public) {
    let user;
    try {
      user = await currentUser();
    } catch (err) {
      const { root, main } = frame({ user: null, current: path });
      main.append(h('h1', {}, route.title), alert('error', err instanceof ApiError
        ? err.message : 'Une erreur est survenue.'));
      show(root, route.title, main);
      return;
    }
    if (ticket !== rendering) return;
    if (!user) {
      navigate(`/connexion?next=${encodeURIComponent(path + location.search)}`, { replace: true });
      return;
    }
    ctx.user = user;
    ctx.commune = await communeLabel(user.commune_insee);
    if (ticket !== rendering) return;
  }
  const headerUser = ctx.user
    ? { name: ctx.user.display_name || ctx.user.subject, commune: ctx.commune,
      roles: ctx.user.roles } : null;
  const { root, main } = frame({ user: headerUser, current: path, onLogout: doLogout });
  main.setAttribute('aria-busy', 'true');
  const pending = route.render(main, ctx);
  show(root, route.title, main);
  await pending;
  main.removeAttribute('aria-busy');
}

// Links of the app (data-link) change the page without a reload; others behave as usual.
document.addEventListener('click', (e) => {
  const a = e.target instanceof Element ? e.target.closest('a[data-link]') : null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey
    || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', render);
render();
