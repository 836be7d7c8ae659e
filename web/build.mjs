// Builds the portal into web/dist: bundles src/app.js and src/app.css (which imports only the
// DSFR parts the pages use) with esbuild into content-hashed files under dist/assets, writes
// dist/index.html referencing them, then a .gz and a .br next to every compressible file.
// The operators' page has its own stylesheet (src/operations.css) and its chart code in a
// chunk of its own (a dynamic import): neither is loaded by any other page.
// Run with `node web/build.mjs` (tools/run and tools/test do); prints the sizes.
import * as esbuild from 'esbuild';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(HERE, 'dist');
const ASSETS = path.join(DIST, 'assets');
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json']);

// Only the Marianne faces the pages use (regular, medium, bold; no italics, light or Spectral),
// and only their woff2 files: every browser the portal targets reads woff2.
const KEPT_FACES = new Set(['Marianne-Regular', 'Marianne-Medium', 'Marianne-Bold']);

/** Rewrites DSFR's CSS as it is loaded: drops unused @font-face rules and the woff fallbacks. */
const dsfrFonts = {
  name: 'dsfr-fonts',
  setup(build) {
    build.onLoad({ filter: /@gouvfr[\\/]dsfr[\\/].*\.css$/ }, async (args) => {
      let css = await fs.promises.readFile(args.path, 'utf8');
      css = css.replace(/@font-face\{[^}]*\}/g, (rule) => {
        const face = /fonts\/([A-Za-z_-]+)\.woff2/.exec(rule);
        if (!face || !KEPT_FACES.has(face[1])) return '';
        return rule.replace(/,url\([^)]*\.woff\) format\("woff"\)/g, '');
      });
      return { contents: css, loader: 'css' };
    });
  },
};

function html(js, css, icon) {
  // No inline script or style: the Content-Security-Policy forbids them.
  return `<!doctype html>
<html lang="fr" data-fr-scheme="light">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="format-detection" content="telephone=no">
<title>Passerelle</title>
<link rel="icon" type="image/svg+xml" href="/assets/${icon}">
<link rel="stylesheet" href="/assets/${css}">
<script type="module" src="/assets/${js}"></script>
</head>
<body>
<div id="app"><p>Chargement…</p></div>
<noscript>Ce portail a besoin de JavaScript.</noscript>
</body>
</html>
`;
}

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

async function main() {
  fs.rmSync(DIST, { recursive: true, force: true });
  fs.mkdirSync(ASSETS, { recursive: true });
  const common = {
    absWorkingDir: HERE,
    bundle: true,
    minify: true,
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    outdir: ASSETS,
    assetNames: '[name]-[hash]',
    loader: { '.woff2': 'file', '.svg': 'file' },
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  };
  // Stylesheets first: the script learns the hashed name of the operators' one.
  const styles = await esbuild.build({
    ...common,
    entryPoints: { app: 'src/app.css', operations: 'src/operations.css' },
    entryNames: '[name]-[hash]',
    plugins: [dsfrFonts],
  });
  const cssOf = (entry) => {
    const out = Object.entries(styles.metafile.outputs).find(([, o]) => o.entryPoint === entry);
    if (!out) throw new Error(`esbuild wrote no css for ${entry}`);
    return path.basename(out[0]);
  };
  const css = cssOf('src/app.css');
  const scripts = await esbuild.build({
    ...common,
    entryPoints: { app: 'src/app.js' },
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    format: 'esm',
    // import() of the operators' page makes a chunk (with the charts) fetched by it alone.
    splitting: true,
    define: {
      __OPERATIONS_CSS__: JSON.stringify(`/assets/${cssOf('src/operations.css')}`),
    },
  });
  const entry = Object.entries(scripts.metafile.outputs)
    .find(([, o]) => o.entryPoint === 'src/app.js');
  if (!entry) throw new Error('esbuild wrote no script for src/app.js');
  const js = path.basename(entry[0]);
  // DSFR's favicon (the Marianne), hashed like the rest; without it browsers ask /favicon.ico.
  const favicon = fs.readFileSync(path.join(HERE, 'node_modules/@gouvfr/dsfr/dist/favicon/favicon.svg'));
  const icon = `favicon-${crypto.createHash('sha256').update(favicon).digest('hex').slice(0, 10)}.svg`;
  fs.writeFileSync(path.join(ASSETS, icon), favicon);
  fs.writeFileSync(path.join(DIST, 'index.html'), html(js, css, icon));

  const rows = [];
  const total = { raw: 0, gz: 0, br: 0 };
  for (const file of walk(DIST).sort()) {
    const data = fs.readFileSync(file);
    let gz = data.length;
    let br = data.length;
    if (COMPRESSIBLE.has(path.extname(file))) {
      const g = zlib.gzipSync(data, { level: 9 });
      const b = zlib.brotliCompressSync(data, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
        },
      });
      fs.writeFileSync(`${file}.gz`, g);
      fs.writeFileSync(`${file}.br`, b);
      gz = g.length;
      br = b.length;
    }
    total.raw += data.length;
    total.gz += gz;
    total.br += br;
    rows.push([path.relative(DIST, file), data.length, gz, br]);
  }
  const pad = (v, n) => String(v).padStart(n);
  console.log(`web/dist${' '.repeat(40)}    raw   gzip brotli`);
  for (const [name, raw, gz, br] of rows) {
    console.log(`  ${name.padEnd(46)}${pad(raw, 7)}${pad(gz, 7)}${pad(br, 7)}`);
  }
  console.log(`  ${'total (woff2 are not compressed again)'.padEnd(46)}` +
    `${pad(total.raw, 7)}${pad(total.gz, 7)}${pad(total.br, 7)}`);
}

main().catch((err) => {
  console.error(err.message || err);
  process.exit(1);
});
