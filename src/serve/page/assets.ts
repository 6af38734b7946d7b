/**
 * The dashboard's files, served from the package itself: no build step, no framework.
 */
import { SCRIPT_JS } from './script.js';
import { STYLE_CSS } from './style.js';

/** A static file of the page. */
export interface PageAsset {
  readonly type: string;
  readonly body: string;
}

/** The assets, by path. */
export const PAGE_ASSETS: Readonly<Record<string, PageAsset>> = {
  '/assets/app.js': { type: 'text/javascript; charset=utf-8', body: SCRIPT_JS },
  '/assets/app.css': { type: 'text/css; charset=utf-8', body: STYLE_CSS },
};

/** The page: one document for every route; the script renders the route from the API. */
export function pageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>service-pipelines</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<header class="top"><a href="/">service-pipelines</a><nav aria-label="main"><a href="/">Pipelines</a></nav></header>
<main id="main" aria-live="off"><p class="muted">Loading…</p></main>
<div id="live" class="visually-hidden" role="status" aria-live="polite"></div>
<noscript><p>The dashboard needs JavaScript. The same data is at <a href="/api/pipelines">/api/pipelines</a>.</p></noscript>
</body>
</html>
`;
}
