import type { Application } from 'express';

/** The parts of Express 5's router layer this module reads. */
interface Layer {
  readonly matchers?: ReadonlyArray<(path: string) => unknown>;
  readonly route?: { readonly methods: Readonly<Record<string, boolean>> };
  readonly handle?: { readonly stack?: readonly Layer[] };
  readonly slash?: boolean;
}

function collect(stack: readonly Layer[], path: string, into: Set<string>): void {
  for (const layer of stack) {
    if (layer.route) {
      if (layer.matchers?.some((m) => m(path))) {
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') into.add(method.toUpperCase());
      }
    } else if (layer.slash && layer.handle?.stack) {
      // A Router mounted at the root (app.use(router)) holds routes with their full paths.
      collect(layer.handle.stack, path, into);
    }
  }
}

/**
 * The methods some route of `app` answers at `path`, so a wrong method is told what is
 * allowed (405 with `Allow`, RFC 9110 §15.5.6) instead of a 404 for a path that exists.
 * Reads the routes the app registered, so new endpoints need nothing extra.
 */
export function allowedMethods(app: Application, path: string): string[] {
  const router = (app as unknown as { router?: { stack?: readonly Layer[] } }).router;
  const methods = new Set<string>();
  if (router?.stack) collect(router.stack, path, methods);
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}
