import { chunkIdentifierTokens, identifierQuery, identifierToken } from './identifiers';

describe('identifier tokens', () => {
  it('escapes FHIR search separators in system and value', () => {
    expect(identifierToken({ system: 'urn:kap', value: 'a,b|c$d\\e' })).toBe('urn:kap|a\\,b\\|c\\$d\\\\e');
    expect(new URLSearchParams(identifierQuery({ system: 'urn:kap', value: 'x&y' })).get('identifier')).toBe('urn:kap|x&y');
  });

  it('chunks by count and by encoded length, dropping duplicates', () => {
    const many = Array.from({ length: 120 }, (_, i) => ({ system: 'urn:kap', value: `v${i}` }));
    const byCount = chunkIdentifierTokens([...many, ...many]);
    expect(byCount.map((c) => c.length)).toEqual([50, 50, 20]);

    const long = Array.from({ length: 10 }, (_, i) => ({ system: 'urn:kap', value: `${'x'.repeat(300)}${i}` }));
    const byLength = chunkIdentifierTokens(long, { maxEncodedLength: 1000 });
    for (const chunk of byLength) expect(encodeURIComponent(chunk.join(',')).length).toBeLessThanOrEqual(1000);
    expect(byLength.flat()).toHaveLength(10);
    expect(chunkIdentifierTokens([])).toEqual([]);
  });
});
