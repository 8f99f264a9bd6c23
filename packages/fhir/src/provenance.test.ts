import { assertBundleInvariants } from '@kap/testkit/fhir-invariants';
import { collectionBundle } from './bundle';
import { RESOURCE_IDENTIFIER_SYSTEM, resourceId } from './resource-ids';
import { ADAPTER_DISPLAY, buildProvenance, PROVENANCE_TAG_SYSTEM } from './provenance';
import { BASE_URL, RECORDED_AT } from '@kap/testkit/fixtures';

describe('buildProvenance', () => {
  const targets = [{ reference: 'Encounter/e1' }, { reference: 'Procedure/p1' }];

  it('has a deterministic id and the identity tag the EHR sync creates it by', () => {
    const p = buildProvenance({ key: 'course/c1/session/1/provenance', targets, recorded: RECORDED_AT, activity: 'CREATE' });
    const id = resourceId('course/c1/session/1/provenance');
    expect(PROVENANCE_TAG_SYSTEM).toBe(RESOURCE_IDENTIFIER_SYSTEM);
    expect(p.id).toBe(id);
    expect(p.meta?.tag).toEqual([{ system: PROVENANCE_TAG_SYSTEM, code: id }]);
    expect(p.target).toEqual(targets);
    expect(p.activity?.coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE' });
    expect(p.agent).toEqual([
      {
        type: {
          coding: [
            { system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'assembler', display: 'Assembler' },
          ],
          text: 'Assembler',
        },
        who: { display: ADAPTER_DISPLAY },
      },
    ]);
    expect(p.reason).toBeUndefined();
    assertBundleInvariants(collectionBundle([p], BASE_URL, RECORDED_AT), new Set(targets.map((t) => t.reference)));
  });

  it('adds the author and the reason when given', () => {
    const p = buildProvenance({
      key: 'k',
      targets,
      recorded: RECORDED_AT,
      activity: 'UPDATE',
      reason: 'Goals-of-care discussion',
      authorDisplay: 'Dr. Rivera',
    });
    expect(p.activity?.coding?.[0]?.code).toBe('UPDATE');
    expect(p.agent?.[1]).toMatchObject({ type: { coding: [{ code: 'author' }] }, who: { display: 'Dr. Rivera' } });
    expect(p.reason).toEqual([{ text: 'Goals-of-care discussion' }]);
  });

  it('refuses an empty target list (R4 target is 1..*)', () => {
    expect(() => buildProvenance({ key: 'k', targets: [], recorded: RECORDED_AT, activity: 'CREATE' })).toThrow(/target/);
  });
});
