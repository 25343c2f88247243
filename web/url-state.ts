// The page's state in its URL, so that a link reproduces a picture:
//   spec   the raw spec as JSON (URL-encoded), exactly what the editor holds
//   view   comma-separated display switches: exact (densities), paths, logt (schedule axis)
//   autorun=0 waits for Run.
// Older links with preset=, particles=, steps=, solver=, seed=, w= still work (web/controls.ts).
// The spec from a URL is only ever parsed as JSON and validated by parseSpec; its strings are
// shown with textContent, never as HTML.

export interface ViewState {
  exact: boolean;
  paths: boolean;
  logT: boolean;
}

export const DEFAULT_VIEW: ViewState = { exact: true, paths: true, logT: false };

export function readUrlState(search: string): { specText: string | null; view: ViewState } {
  const params = new URLSearchParams(search);
  const v = params.get('view');
  const flags = v === null ? null : new Set(v.split(',').filter(Boolean));
  const view = flags
    ? { exact: flags.has('exact'), paths: flags.has('paths'), logT: flags.has('logt') }
    : { ...DEFAULT_VIEW };
  return { specText: params.get('spec'), view };
}

export function viewParam(view: ViewState): string {
  return [view.exact ? 'exact' : '', view.paths ? 'paths' : '', view.logT ? 'logt' : ''].filter(Boolean).join(',');
}

/** Replaces the URL's query with the spec and view (no new history entry per edit). */
export function writeUrlState(raw: unknown, view: ViewState): void {
  const params = new URLSearchParams(location.search);
  for (const k of ['preset', 'particles', 'steps', 'solver', 'seed', 'w']) params.delete(k);
  params.set('spec', JSON.stringify(raw));
  params.set('view', viewParam(view));
  history.replaceState(null, '', `${location.pathname}?${params.toString()}`);
}
