// DOM helpers: elements are built with createElement and textContent only (never innerHTML
// with data), so nothing the server sends can become markup.

/** h('p', {class: 'x', onclick: fn}, 'text', child...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A DSFR alert (role="alert" for errors, so screen readers say it at once). */
export function alert(type, text) {
  return h('div', { class: `fr-alert fr-alert--${type} fr-alert--sm fr-mb-3w`,
    role: type === 'error' ? 'alert' : 'status' }, h('p', {}, text));
}
