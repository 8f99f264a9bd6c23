import { DateOnly, IdentifierSystem, Instant, PastDate, PastInstant, Text, Token } from './primitives';

const ok = (schema: { safeParse(v: unknown): { success: boolean } }, v: unknown) => schema.safeParse(v).success;

describe('FHIR-safe primitives', () => {
  it('text refuses lone surrogates, NUL and control characters, and keeps tabs, line breaks and real pairs', () => {
    for (const bad of ['\ud800', 'a\udc00', 'x\ud83d', 'a\u0000b', '\u0007', '\u001b[31m', '\u007f', '\uffff'])
      expect(ok(Text(), bad)).toBe(false);
    for (const good of ['Ada Example', 'line one\nline two\tend', '😀 emoji pair', 'Zoë Ñandú']) expect(ok(Text(), good)).toBe(true);
    expect(ok(Token(), 'a\nb')).toBe(false);
  });

  it('dates: one range every stored and derived date fits; any string is answered, never thrown on', () => {
    for (const bad of [
      '9999-12-31T23:59:59Z',
      '2100-01-01T00:00:00Z',
      '1899-12-31T23:59:59Z',
      '2026-02-30T10:00:00Z',
      '2026-11-28T2\uffff2:21:47.135Z',
      'not a time',
      '',
    ]) {
      expect(ok(Instant, bad)).toBe(false);
      expect(ok(PastInstant, bad)).toBe(false);
    }
    expect(ok(Instant, '2026-03-01T09:30:00+01:00')).toBe(true);
    for (const bad of ['9999-12-31', '1899-12-31', '2026-02-30', 'x']) expect(ok(DateOnly, bad)).toBe(false);
  });

  it('times and dates in the future are refused where they must have happened', () => {
    expect(ok(PastInstant, new Date(Date.now() + 3600_000).toISOString())).toBe(false);
    expect(ok(PastInstant, new Date(Date.now() - 60_000).toISOString())).toBe(true);
    expect(ok(PastDate, '2098-01-01')).toBe(false);
    expect(ok(PastDate, '1950-04-02')).toBe(true);
  });

  it('identifier systems are absolute URIs', () => {
    for (const good of [
      'urn:oid:2.16.840.1.113883.19.5',
      'urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e',
      'https://hospital.example.org/mrn',
      'http://example.org',
    ]) {
      expect(ok(IdentifierSystem, good)).toBe(true);
    }
    for (const bad of [
      'javascript:alert(1)',
      'MRN',
      'urn:oid:abc',
      'urn:oid:2.01',
      'urn:uuid:nope',
      'http://',
      'https://a b',
      'ftp://x',
      '',
    ]) {
      expect(ok(IdentifierSystem, bad)).toBe(false);
    }
  });
});
