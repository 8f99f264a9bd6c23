import type { ScreeningRequest } from '@kap/contracts';
import { clinicDay } from '@kap/domain';

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

/** Session 1 at the model's low dose, started at `start` and lasting 80 minutes, with one calm reading. */
export function sessionOneRequest(start: Date): Record<string, unknown> {
  return {
    sessionNumber: 1,
    doseLevel: 'low',
    route: 'sublingual',
    dose: { value: 100, unit: 'mg' },
    start: start.toISOString(),
    end: new Date(start.getTime() + 80 * 60_000).toISOString(),
    vitals: [{ at: start.toISOString(), systolic: 130, diastolic: 84, heartRate: 76 }],
  };
}

/**
 * Yesterday on a UTC clinic's calendar: the first day for a test course whose sessions are
 * dated hours ago, so that just after midnight they are not before the course started.
 */
export function courseStartYesterday(): string {
  return clinicDay(Date.now() - 86_400_000, 'UTC');
}
