// The signed-in user (GET /api/me, once per page load), the commune's name, and logout.
import { api, ApiError } from './api.js';

let me = null;
const communeNames = new Map();

/** The caller's identity, or null when not signed in (401); other failures throw. */
export async function currentUser() {
  if (me) return me;
  try {
    me = await api('/api/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
  return me;
}

/** Forgets the cached identity (after login or logout). */
export function forgetUser() {
  me = null;
}

/** "Angers (49007)", or the bare code when the territories are not imported. */
export async function communeLabel(code) {
  if (!code) return '';
  if (!communeNames.has(code)) {
    let name = '';
    try {
      const c = await api(`/api/territories/communes/${encodeURIComponent(code)}`);
      name = c && typeof c.name === 'string' ? c.name : '';
    } catch {
      name = '';
    }
    communeNames.set(code, name);
  }
  const name = communeNames.get(code);
  return name ? `${name} (${code})` : code;
}

/** POST /auth/logout; resolves to where to go next (the provider's logout page, or login). */
export async function logout() {
  const csrf = me && me.csrf_token;
  const res = await api('/auth/logout', { method: 'POST', body: {}, csrf });
  forgetUser();
  return res && typeof res.redirect === 'string' ? res.redirect : '/connexion';
}

export const ROLE_LABELS = {
  elu: 'Élu·e',
  agent: 'Agent·e territorial·e',
  advisor: 'Conseiller·ère',
  operator: 'Opérateur·rice',
};
