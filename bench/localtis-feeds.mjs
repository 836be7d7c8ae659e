// Writes FEEDS RSS 2.0 files of ITEMS generated French articles each into DIR, and the feeds
// file that lists them (DIR/feeds.yaml), for tools/bench's localtis shape.
//   node bench/localtis-feeds.mjs DIR FEEDS ITEMS
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, feeds = '100', items = '1000'] = process.argv.slice(2);
const words = ('commune intercommunalité budget financement financements financer dotation ' +
  'école écoles rénovation énergétique énergie transition écologie eau assainissement mobilité ' +
  'covoiturage habitat logement centre-bourg revitalisation urbanisme permis aménagement ' +
  'territoire département région élus agents conseil municipal délibération marché public ' +
  'commande subvention prêt investissement fonctionnement recettes dépenses fiscalité taxe ' +
  'foncier numérique fibre santé maison médicale petite enfance crèche jeunesse sport culture ' +
  'patrimoine tourisme agriculture alimentation circuit court déchets collecte tri recyclage')
  .split(' ');
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
// Text as news has it: most words from a long tail (20,000 made-up words of French syllables),
// a few topic words from the list above, so that a topic word is in some articles, not in all
// of them (drawn from the list alone, "financement" was in 9 articles out of 10).
const syllables = ['ba', 'cor', 'de', 'fin', 'gra', 'lo', 'men', 'ni', 'pal', 'que', 'ro', 'sa',
  'tion', 'ver', 'mu', 'ch', 'ai', 'eau', 'ent', 'ique', 'ville', 'bourg', 'lan', 'mar'];
const tail = Array.from({ length: 20000 }, (_, i) => {
  let w = '';
  for (let n = i + 1; n > 0; n = Math.floor(n / syllables.length)) w += syllables[n % syllables.length];
  return w;
});
const pick = (n) => Array.from({ length: n }, () => (random() < 0.05
  ? words[Math.floor(random() * words.length)]
  : tail[Math.floor(Math.pow(random(), 2) * tail.length)])).join(' ');
const escape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

mkdirSync(dir, { recursive: true });
let list = 'feeds:\n';
for (let f = 0; f < Number(feeds); f++) {
  let xml = '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>' +
    `<title>Bench ${f}</title><link>https://bench.invalid/${f}</link>\n`;
  for (let i = 0; i < Number(items); i++) {
    const day = 1 + ((f * 7 + i) % 28);
    xml += `<item><title>${escape(pick(8))}</title><link>https://bench.invalid/${f}/${i}</link>` +
      `<guid>bench-${f}-${i}</guid><pubDate>${String(day).padStart(2, '0')}/06/2025 - 10:00</pubDate>` +
      `<description>${escape('<p>' + pick(60) + '</p>')}</description></item>\n`;
  }
  xml += '</channel></rss>\n';
  writeFileSync(join(dir, `feed-${f}.xml`), xml);
  list += `  - {id: bench-${f}, file: feed-${f}.xml, theme: theme-${f % 8}` +
    (f % 4 === 0 ? ', region: "52"' : '') + ', interval: 1d}\n';
}
writeFileSync(join(dir, 'feeds.yaml'), list);
