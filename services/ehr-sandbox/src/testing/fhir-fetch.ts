import type { Resource } from '@medplum/fhirtypes';

/** A parsed HTTP reply from the sandbox. */
export interface Reply<T = Resource> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** Minimal FHIR JSON client over fetch, for tests that must exercise real HTTP. */
export function fhirClient(baseUrl: string, defaultHeaders: Record<string, string> = {}) {
  async function request<T = Resource>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> {
    const res = await fetch(`${baseUrl}/${path}`, {
      method,
      headers: {
        accept: 'application/fhir+json',
        ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
        ...defaultHeaders,
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
  }
  return {
    request,
    get: <T = Resource>(path: string, headers?: Record<string, string>) => request<T>('GET', path, undefined, headers),
    post: <T = Resource>(path: string, body: unknown, headers?: Record<string, string>) => request<T>('POST', path, body, headers),
    put: <T = Resource>(path: string, body: unknown, headers?: Record<string, string>) => request<T>('PUT', path, body, headers),
    delete: <T = Resource>(path: string) => request<T>('DELETE', path),
  };
}
