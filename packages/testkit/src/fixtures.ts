import type { DosingSessionRequest, GoalsOfCareRequest, ScreeningRequest } from '@kap/contracts';

/** Fixed inputs for tests and golden files; not exported from the package. */
export const BASE_URL = 'https://kap.example.org/fhir/R4';
export const RECORDED_AT = '2026-03-02T10:00:00Z';
export const HOSPITAL = 'https://hospital.example.org/mrn';

export const ELIGIBLE_FULL: ScreeningRequest = {
  patient: { system: HOSPITAL, value: 'MRN-001', name: 'Ada Example', birthDate: '1950-04-01', gender: 'female' },
  performedAt: '2026-03-01T09:30:00+01:00',
  contraindications: Object.fromEntries(
    ['notReadyForTherapy', 'pregnancyOrBreastfeeding', 'uncontrolledHypertension', 'activePsychosis'].map((k) => [k, false]),
  ),
  vitals: { systolic: 128, diastolic: 82, heartRate: 72, spo2: 97.5, respiratoryRate: 14, weightKg: 61.2 },
  measures: { phq9: [1, 2, 1, 0, 3, 1, 2, 1, 0], gad7: [2, 1, 1, 0, 0, 2, 1] },
  consent: { informed: true, signedAt: '2026-03-01T09:00:00+01:00' },
};

export const NEEDS_REVIEW: ScreeningRequest = {
  patient: { system: HOSPITAL, value: 'MRN-002', name: { family: 'Sample', given: ['Ben'] } },
  performedAt: '2026-03-01T11:00:00+01:00',
  contraindications: { recurrentCystitis: true, obesityAnestheticRisk: true },
  vitals: { systolic: 134, diastolic: 85, heartRate: 80 },
};

export const BP_CONTRAINDICATED: ScreeningRequest = {
  patient: { system: HOSPITAL, value: 'MRN-003' },
  performedAt: '2026-03-01T14:15:00Z',
  contraindications: {},
  vitals: { systolic: 168, diastolic: 98, heartRate: 91, spo2: 95 },
  measures: { phq9: [3, 3, 2, 2, 1, 3, 2, 1, 0] },
  consent: { informed: false },
};

/** A full dosing session 1: serial vitals, experience ratings and an adverse event. */
export const SESSION_1: DosingSessionRequest = {
  sessionNumber: 1,
  doseLevel: 'low',
  route: 'intramuscular',
  dose: { value: 0.5, unit: 'mg/kg' },
  start: '2026-03-10T09:00:00+01:00',
  end: '2026-03-10T10:45:00+01:00',
  vitals: [
    { at: '2026-03-10T08:55:00+01:00', systolic: 128, diastolic: 80, heartRate: 72, spo2: 98 },
    { at: '2026-03-10T09:30:00+01:00', systolic: 152, diastolic: 92, heartRate: 88 },
    { at: '2026-03-10T10:40:00+01:00', systolic: 130, diastolic: 82, heartRate: 74, respiratoryRate: 14 },
  ],
  adverseEvents: [{ description: 'Transient nausea after the acute effects', severity: 'mild' }],
  experience: { dissociation: 6, egoDissolution: 3.5, distress: 1 },
};

/** The in-session alert threshold the tests use (a site setting). */
export const ALERT_THRESHOLD = { systolicAbove: 160, diastolicAbove: 100 } as const;

export const GOALS_OF_CARE: GoalsOfCareRequest = {
  discussedAt: '2026-03-20T14:00:00+01:00',
  participants: ['Ada Example (patient)', 'Dr. Rivera (palliative care)', 'Sam Example (daughter)'],
  values: ['Being at peace with family', 'Staying clear-headed when visitors come'],
  goals: [
    { description: 'Spend the remaining weeks at home with family', priority: 'high-priority' },
    { description: 'Reconcile with my brother' },
  ],
  preferences: { placeOfCare: 'Home, with hospice support', codeStatus: 'Do not attempt resuscitation' },
  decisions: ['Continue the second dosing session as planned'],
};
