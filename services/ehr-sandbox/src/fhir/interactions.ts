/**
 * What a request asks of the server: its resource type and its R4 RESTful interaction. The
 * profile's allowed interactions and the token's scopes are both judged on this, for plain
 * requests and for each entry of a batch or transaction alike.
 * @see http://hl7.org/fhir/R4/valueset-type-restful-interaction.html
 */
export type TypeInteraction =
  'read' | 'vread' | 'update' | 'patch' | 'delete' | 'history-instance' | 'history-type' | 'create' | 'search-type' | 'operation';

export interface RequestedInteraction {
  readonly resourceType: string;
  readonly interaction: TypeInteraction;
  /** The instance id, for instance-level interactions. */
  readonly id?: string;
  /** Search criteria of a conditional update/delete/patch (`PUT Type?identifier=…`). */
  readonly conditional?: string;
}

/** Interactions a read-only (SMART `r`/`s`) grant allows; every other one writes. */
export const READ_INTERACTIONS: ReadonlySet<TypeInteraction> = new Set([
  'read',
  'vread',
  'history-instance',
  'history-type',
  'search-type',
]);

/**
 * Classifies `method` on `url` (relative to the FHIR base, with or without a leading `/` and
 * a query). Undefined for system-level requests (`/`, `/$op`, `/metadata`).
 */
export function classifyRequest(method: string, url: string): RequestedInteraction | undefined {
  const [path = '', query] = url.split('?', 2);
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [resourceType, second, third, fourth] = segments;
  if (!resourceType || resourceType.startsWith('$') || resourceType === 'metadata' || resourceType.startsWith('_')) {
    return undefined;
  }
  const m = method.toUpperCase();
  if (segments.length === 1) {
    switch (m) {
      case 'GET':
      case 'HEAD':
        return { resourceType, interaction: 'search-type' };
      case 'POST':
        return { resourceType, interaction: 'create' };
      case 'PUT':
        return { resourceType, interaction: 'update', conditional: query ?? '' };
      case 'PATCH':
        return { resourceType, interaction: 'patch', conditional: query ?? '' };
      case 'DELETE':
        return { resourceType, interaction: 'delete', conditional: query ?? '' };
      default:
        return { resourceType, interaction: 'operation' };
    }
  }
  if (second === '_search') {
    return { resourceType, interaction: 'search-type' };
  }
  if (second === '_history') {
    return { resourceType, interaction: 'history-type' };
  }
  if (second?.startsWith('$') || third?.startsWith('$')) {
    return { resourceType, interaction: 'operation' };
  }
  const id = second as string;
  if (third === '_history') {
    return fourth ? { resourceType, id, interaction: 'vread' } : { resourceType, id, interaction: 'history-instance' };
  }
  switch (m) {
    case 'PUT':
      return { resourceType, id, interaction: 'update' };
    case 'PATCH':
      return { resourceType, id, interaction: 'patch' };
    case 'DELETE':
      return { resourceType, id, interaction: 'delete' };
    default:
      return { resourceType, id, interaction: 'read' };
  }
}
