// Builds the chat page into dist/: one minified script and one stylesheet with content hashes
// in their names, KaTeX's woff2 fonts beside them, and index.html naming them. The zhiku
// binary embeds dist/ at compile time (crates/server/src/routes/web.rs), so the page needs
// nothing from any other server at run time.
import { build } from 'esbuild';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const dist = new URL('./dist/', import.meta.url).pathname;
await rm(dist, { recursive: true, force: true });
await mkdir(join(dist, 'assets'), { recursive: true });

const result = await build({
  entryPoints: ['src/main.js', 'src/style.css'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir: join(dist, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  // Browsers that render the page all take woff2: the older formats KaTeX lists after it are
  // never fetched, so they are not shipped.
  loader: { '.woff2': 'file', '.woff': 'empty', '.ttf': 'empty' },
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => p.split('/').pop());
const script = outputs.find((f) => /^main-.*\.js$/.test(f));
const style = outputs.find((f) => /^style-.*\.css$/.test(f));
if (!script || !style) throw new Error(`build produced no script or stylesheet: ${outputs}`);
const template = await readFile(new URL('./index.html', import.meta.url), 'utf8');
const page = template
  .replace('%SCRIPT%', `/assets/${script}`)
  .replace('%STYLE%', `/assets/${style}`);
await writeFile(join(dist, 'index.html'), page);
// The fallbacks to the formats not shipped are left empty by the 'empty' loader: drop them.
const cssPath = join(dist, 'assets', style);
const css = await readFile(cssPath, 'utf8');
await writeFile(cssPath, css.replace(/,\s*url\(\)\s*format\("(?:woff|truetype)"\)/g, ''));
const files = await readdir(join(dist, 'assets'));
console.log(`web/dist: index.html and ${files.length} assets (${script}, ${style})`);
