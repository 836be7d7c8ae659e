// The frame of every page: skip links, the DSFR header (service name, the user's name and
// commune, logout, navigation), the main landmark and the footer.
import { h } from './dom.js';

// `role` / `roles`: shown only to users who have it, or one of them (the page checks again, and
// so does the API).
export const NAV = [
  { path: '/', label: 'Tableau de bord' },
  { path: '/ma-direction', label: 'Ma direction' },
  { path: '/actualites', label: 'Actualités' },
  { path: '/conseils', label: 'Conseils' },
  { path: '/offres', label: 'Offres' },
  { path: '/mon-organisation', label: 'Mon organisation' },
  { path: '/mon-compte', label: 'Mon compte' },
  { path: '/exploitation', label: 'Exploitation', role: 'operator' },
];

function logo() {
  return h('div', { class: 'fr-header__logo' },
    h('p', { class: 'fr-logo' }, 'République', h('br'), 'Française'));
}

function service() {
  return h('div', { class: 'fr-header__service' },
    h('a', { href: '/', title: 'Accueil - Passerelle', 'data-link': true },
      h('p', { class: 'fr-header__service-title' }, 'Passerelle')),
    h('p', { class: 'fr-header__service-tagline' }, 'Le portail des communes'));
}

/** The header tools: who is signed in and the logout button (a new list each call). */
function toolLinks(user, onLogout) {
  if (!user) return [];
  return [h('ul', { class: 'fr-btns-group' },
    h('li', {},
      h('a', { class: 'fr-btn fr-icon-account-circle-line', href: '/mon-compte', 'data-link': true },
        user.commune ? `${user.name} – ${user.commune}` : user.name)),
    h('li', {},
      h('button', { type: 'button', class: 'fr-btn fr-icon-logout-box-r-line',
        onclick: onLogout }, 'Se déconnecter')))];
}

/**
 * Builds the page frame; returns { root, main }. user: { name, commune, roles } or null (login
 * page);
 * current: the path of the page, marked aria-current in the navigation.
 */
export function frame({ user, current, onLogout }) {
  const menuId = 'header-menu';
  const burgerId = 'header-menu-button';
  const menu = h('div', { class: 'fr-header__menu fr-modal', id: menuId,
    'aria-labelledby': burgerId });
  // DSFR's own script is not shipped: the mobile menu opens and closes here.
  const setMenu = (open) => {
    menu.classList.toggle('fr-modal--opened', open);
    document.getElementById(burgerId)?.setAttribute('aria-expanded', String(open));
    if (open) menu.querySelector('button')?.focus();
    else document.getElementById(burgerId)?.focus();
  };
  const navbar = user ? h('div', { class: 'fr-header__navbar' },
    h('button', { type: 'button', class: 'fr-btn--menu fr-btn', id: burgerId,
      'aria-controls': menuId, 'aria-expanded': 'false', title: 'Menu',
      onclick: () => setMenu(true) }, 'Menu')) : null;

  const header = h('header', { role: 'banner', class: 'fr-header' },
    h('div', { class: 'fr-header__body' },
      h('div', { class: 'fr-container' },
        h('div', { class: 'fr-header__body-row' },
          h('div', { class: 'fr-header__brand fr-enlarge-link' },
            h('div', { class: 'fr-header__brand-top' }, logo(), navbar),
            service()),
          h('div', { class: 'fr-header__tools' },
            h('div', { class: 'fr-header__tools-links' }, toolLinks(user, onLogout)))))),
    menu);
  if (user) {
    const has = (role) => (user.roles || []).includes(role);
    const links = NAV.filter((item) => (!item.role || has(item.role))
      && (!item.roles || item.roles.some(has)));
    menu.append(h('div', { class: 'fr-container' },
      h('button', { type: 'button', class: 'fr-btn--close fr-btn', 'aria-controls': menuId,
        title: 'Fermer', onclick: () => setMenu(false) }, 'Fermer'),
      h('div', { class: 'fr-header__menu-links' }, toolLinks(user, onLogout)),
      h('nav', { class: 'fr-nav', id: 'navigation', role: 'navigation',
        'aria-label': 'Menu principal' },
        h('ul', { class: 'fr-nav__list' }, links.map((item) => h('li', { class: 'fr-nav__item' },
          h('a', { class: 'fr-nav__link', href: item.path, 'data-link': true,
            'aria-current': item.path === current ? 'page' : null,
            onclick: () => setMenu(false) }, item.label)))))));
    menu.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && menu.classList.contains('fr-modal--opened')) setMenu(false);
    });
  }

  const skip = h('div', { class: 'fr-skiplinks' },
    h('nav', { class: 'fr-container', role: 'navigation', 'aria-label': 'Accès rapide' },
      h('ul', { class: 'fr-skiplinks__list' },
        h('li', {}, h('a', { class: 'fr-link', href: '#contenu' }, 'Contenu')),
        user ? h('li', {}, h('a', { class: 'fr-link', href: '#navigation' }, 'Menu')) : null,
        h('li', {}, h('a', { class: 'fr-link', href: '#pied-de-page' }, 'Pied de page')))));

  const main = h('main', { id: 'contenu', role: 'main', tabindex: '-1',
    class: 'fr-container fr-py-5w pa-main' });
  const footer = h('footer', { class: 'fr-footer', role: 'contentinfo', id: 'pied-de-page' },
    h('div', { class: 'fr-container' },
      h('div', { class: 'fr-footer__body' },
        h('div', { class: 'fr-footer__brand fr-enlarge-link' },
          h('a', { href: '/', title: 'Retour à l’accueil - Passerelle', 'data-link': true },
            h('p', { class: 'fr-logo' }, 'République', h('br'), 'Française'))),
        h('div', { class: 'fr-footer__content' },
          h('p', { class: 'fr-footer__content-desc' },
            'Passerelle : les services de la banque publique pour les élus et les agents ' +
            'des communes.')))));
  const root = h('div', {}, skip, header, main, footer);
  return { root, main };
}
