import type { Consent } from '@medplum/fhirtypes';
import type { ConsentInput } from '@kap/contracts';
import { HL7, LOINC, SNOMED } from './codes';
import { concept } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import { screeningKey } from './business-keys';
import type { ScreeningContext } from './screening-context';
import { validateResource } from './validate';

/**
 * Informed consent to KAP as a treatment Consent that permits psychotherapy, sourced from
 * the screening's QuestionnaireResponse. Built only when consent was given.
 * @see https://hl7.org/fhir/R4/consent.html
 */
export function buildConsent(ctx: ScreeningContext, consent: ConsentInput | undefined): Consent | undefined {
  if (!consent?.informed) return undefined;
  const key = screeningKey(ctx.screeningId, 'consent');
  const resource: Consent = {
    resourceType: 'Consent',
    id: resourceId(key),
    identifier: [resourceIdentifier(key)],
    status: 'active',
    scope: concept([HL7.treatmentScope]),
    category: [concept([LOINC.patientConsent])],
    patient: ctx.subject,
    dateTime: consent.signedAt ?? ctx.effective,
    sourceReference: ctx.response,
    // R4 requires a policy or a policy rule (ppc-1): the patient assents to the terms offered.
    policyRule: concept([HL7.optIn], 'Informed consent to ketamine-assisted psychotherapy'),
    provision: {
      type: 'permit',
      code: [concept([SNOMED.psychotherapy], 'Ketamine-assisted psychotherapy')],
    },
  };
  return validateResource(resource);
}
