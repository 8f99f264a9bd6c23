import type { Patient, QuestionnaireResponse, Reference } from '@medplum/fhirtypes';

/** What every resource derived from one screening shares. */
export interface ScreeningContext {
  readonly screeningId: string;
  readonly subject: Reference<Patient>;
  /** When the screening was performed: `effectiveDateTime` of what it observed. */
  readonly effective: string;
  /** When the adapter recorded it: `issued`. */
  readonly issued: string;
  /** The QuestionnaireResponse every extracted resource is `derivedFrom` (SDC extraction). */
  readonly response: Reference<QuestionnaireResponse>;
}
