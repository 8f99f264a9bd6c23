/**
 * Every counterexample fuzzing or a probe has found, replayed on each test run (before the
 * seeded runs), so a fixed bug stays fixed whatever the generators draw. Append new ones;
 * `make` builds the case from the endpoint's valid body.
 */
import type { FuzzCase } from './fuzz';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

export interface CorpusEntry {
  /** FuzzTarget name. */
  readonly target: string;
  /** What went wrong before it was fixed. */
  readonly found: string;
  readonly make: (valid: Json) => FuzzCase;
}

const obj = (v: Json): Obj => structuredClone(v) as Obj;
const withField =
  (path: string, value: Json) =>
  (valid: Json): FuzzCase => {
    const body = obj(valid);
    const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
    let node: any = body;
    for (const k of keys.slice(0, -1)) node = node[k];
    node[keys[keys.length - 1] as string] = value;
    return { body };
  };

export const FUZZ_CORPUS: readonly CorpusEntry[] = [
  {
    target: 'screenings.review',
    found: '500: PostgreSQL 22P02 on a lone surrogate',
    make: () => ({ body: { decision: 'approved', reviewer: '\ud800' } }),
  },
  { target: 'screenings.review', found: '500 on a NUL in a path id (now 404)', make: (valid) => ({ body: valid, id: '\u0000' }) },
  {
    target: 'screenings',
    found: '500 on a lone surrogate in the MRN, with the Patient in the error log',
    make: withField('patient.value', '\ud800'),
  },
  { target: 'screenings', found: '500 on a lone low surrogate in a name', make: withField('patient.name.family', 'x\udc00') },
  { target: 'screenings', found: '201 for a birth date in 2099', make: withField('patient.birthDate', '2099-01-01') },
  { target: 'screenings', found: '201 for performedAt in 2099', make: withField('performedAt', '2099-01-01T00:00:00Z') },
  { target: 'screenings', found: '201 for a javascript: identifier system', make: withField('patient.system', 'javascript:alert(1)') },
  {
    target: 'screenings',
    found: '201 for systolic 60 with diastolic 190',
    make: withField('vitals', { systolic: 60, diastolic: 190, heartRate: 70 }),
  },
  { target: 'screenings', found: '500 on a gzip body that does not decompress', make: (valid) => ({ body: valid, garbled: 'gzip' }) },
  { target: 'screenings', found: '500 on a br body that does not decompress', make: (valid) => ({ body: valid, garbled: 'br' }) },
  { target: 'courses', found: '500: invalid byte sequence 0x00', make: withField('screeningId', 'a\u0000b') },
  { target: 'courses', found: '201 for duplicate follow-up offsets', make: withField('followUpOffsets', ['PT24H', 'PT24H']) },
  { target: 'courses.dosing-sessions', found: '500: a follow-up due in year 10000', make: withField('end', '9999-12-31T23:59:59Z') },
  {
    target: 'courses.dosing-sessions',
    found: '201 for a vital sign in 2020 for a 2026 session',
    make: withField('vitals[0].at', '2020-01-01T00:00:00Z'),
  },
  {
    target: 'courses.dosing-sessions',
    found: '500 on a lone surrogate in an adverse event',
    make: withField('adverseEvents[0].description', '\ud800'),
  },
  { target: 'follow-ups.complete', found: '201 for completedAt in 9999', make: withField('completedAt', '9999-12-31T23:59:59Z') },
  { target: 'follow-ups.complete', found: '500 on a lone surrogate in the note', make: withField('note', '\udfff') },
  {
    target: 'follow-ups.complete',
    found: '500: a date refinement threw on a time that is not one',
    make: withField('completedAt', '2026-11-28T2\uffff2:21:47.135Z'),
  },
  { target: 'screenings', found: '500: a date refinement threw on a time that is not one', make: withField('performedAt', 'not a time') },
  {
    target: 'courses.goals-of-care',
    found: '500 on a lone surrogate in goals-of-care text',
    make: withField('goals[0].description', '\ud83d'),
  },
  { target: 'courses.goals-of-care', found: '500 on NUL in goals-of-care text', make: withField('participants[0]', 'a\u0000') },
  {
    target: 'fhir.QuestionnaireResponse',
    found: '500 on a lone surrogate in subject.identifier.value',
    make: withField('subject.identifier.value', '\ud800'),
  },
  {
    target: 'fhir.QuestionnaireResponse',
    found: '201 with unknown top-level keys',
    make: (valid) => ({ body: { ...obj(valid), surprise: true } }),
  },
];
