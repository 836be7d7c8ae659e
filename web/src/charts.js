// The line charts of the operators' page: DSFR Chart's <line-chart> web component (Vue and
// Chart.js inside, about 100 KB compressed), reached only through import() from that page so
// that no other page loads it.
import '@gouvfr/dsfr-chart/LineChart';

/** Links `href` (a stylesheet of this site) inside `root` once. */
function linkStyle(root, href) {
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = href;
  root.prepend(link);
}

/**
 * A <line-chart> of one series: labels along x, values (null: no value) along y. The component
 * draws in a shadow root, which the page's stylesheets do not reach: they are linked in it.
 */
export function lineChart({ labels, values, name, unit, styles }) {
  const el = document.createElement('line-chart');
  el.setAttribute('x', JSON.stringify([labels]));
  el.setAttribute('y', JSON.stringify([values]));
  el.setAttribute('name', JSON.stringify([name]));
  if (unit) el.setAttribute('unit-tooltip', unit);
  el.setAttribute('y-min', '0');
  if (el.shadowRoot) for (const href of [...styles].reverse()) linkStyle(el.shadowRoot, href);
  return el;
}
