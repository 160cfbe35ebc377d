// Sample static sites as {path: content} maps, for the static buildpack tests
// and end-to-end pushes. Text files only (the maps are strings); the files
// CSS/JS are over 1 KiB so that the server compresses them.

const CSS = `/* site styles */\n${Array.from({ length: 60 }, (_, i) => `.c${i} { margin: ${i}px; padding: ${i}px; }`).join('\n')}\n`;
const JS = `// app\n${Array.from({ length: 60 }, (_, i) => `export const value${i} = 'value number ${i}';`).join('\n')}\n`;

/** Plain files at the root: index.html is what detection looks for. */
export const STATIC_SITE: Record<string, string> = {
  'index.html': '<!doctype html>\n<title>Static</title>\n<link rel="stylesheet" href="/css/style.css">\n<h1>Hello from a static site</h1>\n',
  'about.html': '<!doctype html>\n<title>About</title>\n<h1>About us</h1>\n',
  'css/style.css': CSS,
  'js/app.3f2a1b9c.js': JS,
  'js/plain.js': JS,
  'data.json': '{"items": [1, 2, 3]}\n',
  'logo.svg': '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n',
  'robots.txt': 'User-agent: *\n',
  'docs/index.html': '<h1>Docs index</h1>\n',
  '.env': 'SECRET=do-not-serve\n',
};

/** A built single-page app in dist/: static.json sends every unknown path to index.html. */
export const STATIC_SPA: Record<string, string> = {
  'static.json': `${JSON.stringify(
    { root: 'dist/', routes: { '/**': 'index.html' }, headers: { '/assets/**': { 'X-Served-By': 'shipoff-static' } } },
    null,
    2,
  )}\n`,
  'dist/index.html': '<!doctype html>\n<div id="app">single page app shell</div>\n<script type="module" src="/assets/index-BMeW2T3d.js"></script>\n',
  'dist/assets/index-BMeW2T3d.js': JS,
  'src/main.js': '// the source, outside the root: never served\n',
};

/** clean_urls and a custom 404 page. */
export const STATIC_CLEAN_URLS: Record<string, string> = {
  'static.json': `${JSON.stringify({ clean_urls: true, error_page: '404.html' }, null, 2)}\n`,
  'index.html': '<h1>Home</h1>\n',
  'pricing.html': '<h1>Pricing page</h1>\n',
  '404.html': '<h1>Custom not found page</h1>\n',
};

/** static.json that is not JSON: the build fails. */
export const STATIC_BAD_CONFIG: Record<string, string> = {
  'static.json': '{ "root": "dist/", }\n',
  'index.html': '<h1>never served</h1>\n',
};
