import type { Bundle } from '@medplum/fhirtypes';
import { createEhrClient } from './client';
import { EhrError } from './errors';

/**
 * Replies a conformant server never sends but proxies and misconfigured base URLs do.
 * Conformant behaviour is tested against the real FHIR sandbox in test/ehr-client.test.ts.
 */
function replying(status: number, body: string, headers: Record<string, string> = {}): { fetch: typeof fetch; requests: Request[] } {
  const requests: Request[] = [];
  const impl: typeof fetch = async (input, init) => {
    requests.push(new Request(input, init));
    return new Response(body, { status, headers });
  };
  return { fetch: impl, requests };
}

const client = (f: typeof fetch) =>
  createEhrClient({ baseUrl: 'https://ehr.example.org/fhir/R4/', auth: { mode: 'bearer', token: 't' }, timeoutMs: 1000, fetch: f });

async function failure(promise: Promise<unknown>): Promise<EhrError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof EhrError)) throw new Error(`expected an EhrError, got ${String(error)}`);
  return error;
}

describe('EHR client reply checks', () => {
  it('sends FHIR JSON headers, the token and the user agent', async () => {
    const stub = replying(200, JSON.stringify({ resourceType: 'Bundle', type: 'transaction-response', entry: [] }));
    await createEhrClient({
      baseUrl: 'https://ehr.example.org/fhir/R4/',
      auth: { mode: 'bearer', token: 't' },
      timeoutMs: 1000,
      userAgent: 'kap/1',
      fetch: stub.fetch,
    }).transaction({ resourceType: 'Bundle', type: 'transaction', entry: [] });
    const [request] = stub.requests;
    expect(request?.url).toBe('https://ehr.example.org/fhir/R4');
    expect(request?.method).toBe('POST');
    expect(request?.headers.get('accept')).toBe('application/fhir+json');
    expect(request?.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    expect(request?.headers.get('authorization')).toBe('Bearer t');
    expect(request?.headers.get('user-agent')).toBe('kap/1');
  });

  it('treats an HTML page with 200 as retryable, not as data', async () => {
    const error = await failure(client(replying(200, '<html>maintenance</html>').fetch).capabilities());
    expect(error).toMatchObject({ kind: 'retryable', status: 200 });
  });

  it('checks the resourceType of every reply', async () => {
    const wrong = replying(200, JSON.stringify({ resourceType: 'Patient', id: 'x' }));
    expect(await failure(client(wrong.fetch).search('Patient', {}))).toMatchObject({ kind: 'retryable' });
    expect(await failure(client(wrong.fetch).read('Observation', 'x'))).toMatchObject({ kind: 'retryable' });
    const notTransaction = replying(200, JSON.stringify({ resourceType: 'Bundle', type: 'batch-response', entry: [] }));
    expect(await failure(client(notTransaction.fetch).transaction({ resourceType: 'Bundle', type: 'transaction' }))).toMatchObject({
      kind: 'retryable',
    });
  });

  it('requires one response entry per request entry', async () => {
    const short = replying(200, JSON.stringify({ resourceType: 'Bundle', type: 'transaction-response', entry: [] }));
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'GET', url: 'Patient/1' } }] };
    expect(await failure(client(short.fetch).transaction(bundle))).toMatchObject({ kind: 'retryable' });
  });

  it('refuses to send a non-transaction Bundle', async () => {
    const stub = replying(200, '{}');
    expect(await failure(client(stub.fetch).transaction({ resourceType: 'Bundle', type: 'batch' }))).toMatchObject({ kind: 'rejected' });
    expect(stub.requests).toHaveLength(0);
  });

  it('reports a redirect instead of following it', async () => {
    const stub = replying(301, '', { Location: 'https://elsewhere.example.org/fhir' });
    const error = await failure(client(stub.fetch).capabilities());
    expect(error).toMatchObject({ kind: 'rejected', status: 301 });
    expect(error.message).toContain('https://elsewhere.example.org/fhir');
  });

  it('does not follow a next link to another origin, which would leak the token', async () => {
    const page = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [],
      link: [{ relation: 'next', url: 'http://internal:8080/fhir/Patient?page=2' }],
    };
    const stub = replying(200, JSON.stringify(page));
    expect(await failure(client(stub.fetch).searchAll('Patient', {}))).toMatchObject({ kind: 'rejected' });
    expect(stub.requests).toHaveLength(1);
  });

  it('falls back to meta.versionId for the ETag when the server sends none', async () => {
    const stub = replying(200, JSON.stringify({ resourceType: 'Patient', id: 'p', meta: { versionId: 'a1b2' } }));
    await expect(client(stub.fetch).read('Patient', 'p')).resolves.toMatchObject({ etag: 'W/"a1b2"' });
  });

  it('rejects a base URL that is not http(s)', () => {
    expect(() => createEhrClient({ baseUrl: 'ftp://x', auth: { mode: 'none' }, timeoutMs: 1 })).toThrow(EhrError);
  });
});
