import { ALL_STANDARD_CODES, FREQUENCY_ANSWERS, GAD7_ITEMS, LOINC_SYSTEM, PHQ9_ITEMS } from './codes';

/** LOINC's mod-10 check digit of the code number (https://loinc.org/kb/users-guide/calculating-mod-10-check-digits/). */
function loincCheckDigit(num: string): number {
  let sum = 0;
  [...num].reverse().forEach((ch, i) => {
    let d = Number(ch);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  });
  return (10 - (sum % 10)) % 10;
}

const isValidLoinc = (code: string): boolean => {
  const m = /^(\d+)-(\d)$/.exec(code);
  return !!m && loincCheckDigit(m[1] ?? '') === Number(m[2]);
};

describe('LOINC codes', () => {
  const terms = ALL_STANDARD_CODES.filter((c) => c.system === LOINC_SYSTEM && !c.code.startsWith('LA'));

  it.each(terms.map((c) => [c.code, c.display]))('%s (%s) has a valid check digit', (code) => {
    expect(isValidLoinc(code)).toBe(true);
  });

  it('rejects the wrong variants seen in public repositories', () => {
    expect(isValidLoinc('93373-7')).toBe(false);
    expect(isValidLoinc('70273-5')).toBe(false);
  });

  it('has 9 PHQ-9 items, 7 GAD-7 items and 4 answers, all distinct', () => {
    expect(PHQ9_ITEMS).toHaveLength(9);
    expect(GAD7_ITEMS).toHaveLength(7);
    expect(FREQUENCY_ANSWERS.map((a) => a.code)).toEqual(['LA6568-5', 'LA6569-3', 'LA6570-1', 'LA6571-9']);
    const all = [...PHQ9_ITEMS, ...GAD7_ITEMS].map((c) => c.code);
    expect(new Set(all).size).toBe(all.length);
  });

  it('has no code with two displays', () => {
    const seen = new Map<string, string>();
    for (const c of ALL_STANDARD_CODES) {
      if (c.system === 'http://unitsofmeasure.org') continue; // one unit, two human displays (beats, breaths)
      const key = `${c.system}|${c.code}`;
      expect(seen.get(key) ?? c.display).toBe(c.display);
      seen.set(key, c.display);
    }
  });
});
