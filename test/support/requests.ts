import type { ScreeningRequest } from '@kap/contracts';

let counter = 0;

/** A synthetic screening request; each call gets its own hospital identifier unless one is given. */
export function screeningRequest(overrides: Partial<ScreeningRequest> = {}): ScreeningRequest {
  counter += 1;
  return {
    patient: {
      system: 'urn:oid:2.16.840.1.113883.19.5.99999.1',
      value: `SYN-${process.pid}-${Date.now()}-${counter}`,
      name: { family: 'Synthetic', given: ['Test'] },
      birthDate: '1950-04-02',
      gender: 'female',
    },
    performedAt: '2026-03-01T09:30:00+01:00',
    contraindications: {},
    vitals: { systolic: 128, diastolic: 82, heartRate: 74, spo2: 97, respiratoryRate: 14, weightKg: 61.5 },
    measures: { phq9: [2, 2, 1, 1, 0, 2, 1, 1, 0], gad7: [2, 1, 2, 1, 0, 1, 1] },
    consent: { informed: true, signedAt: '2026-03-01T09:00:00+01:00' },
    ...overrides,
  };
}
