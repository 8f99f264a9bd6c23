import type { Communication, Flag, Patient, Reference } from '@medplum/fhirtypes';
import type { SelfHarmFinding } from '@kap/domain';
import { coding, HL7, PHQ9_ITEMS } from './codes';
import { kapCoding } from './code-system';
import { buildCareTeamCommunication } from './communication';
import { concept, referenceTo } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import { FLAG_DETAIL_EXTENSION } from './session-alert';
import { selfHarmAlertResourceKey } from './business-keys';
import { validateResource } from './validate';

/**
 * The `phq9-self-harm` safety alert (docs/api.md#screening-outcome-and-reasons), raised at a screening and at every later
 * measure whose PHQ-9 item 9 is above 0, whatever else was found:
 * - a `safety` Flag on the patient's chart, coded with our finding and LOINC 44260-8 (the
 *   item), pointing at the evidence with the core `flag-detail` extension;
 * - an urgent Communication to the care team about the Flag, which the webhooks carry like
 *   every care-team notification.
 * Decision support: it says what was answered and that an assessment is due, not what to do.
 * @see https://hl7.org/fhir/R4/flag.html
 * @see https://hl7.org/fhir/R4/codesystem-flag-category.html (safety)
 */

export interface SelfHarmAlertInput {
  /** The alert's business key (`screeningSelfHarmAlertKey`, `measureSelfHarmAlertKey`). */
  readonly key: string;
  readonly subject: Reference<Patient>;
  readonly finding: SelfHarmFinding;
  /** When the PHQ-9 was answered. */
  readonly answeredAt: string;
  /** When the adapter recorded it and told the team. */
  readonly recordedAt: string;
  /** What shows the answer: the finding Observation or the QuestionnaireResponse. */
  readonly evidence: Reference;
  /** Where it was answered, for the text: `at screening`, `in the measure after session 1`. */
  readonly where: string;
}

export interface SelfHarmAlert {
  readonly flag: Flag;
  readonly communication: Communication;
}

const ITEM9 = PHQ9_ITEMS[8];

export function buildSelfHarmAlert(input: SelfHarmAlertInput): SelfHarmAlert {
  if (!ITEM9) throw new Error('PHQ-9 item 9 is missing from the code table');
  // The time is the Flag's period.start and the Communication's subject; the text says where.
  const text = `Safety alert: ${input.finding.text} (answered ${input.where}).`;
  const flagKey = selfHarmAlertResourceKey(input.key, 'flag');
  const flag: Flag = validateResource({
    resourceType: 'Flag',
    id: resourceId(flagKey),
    extension: [{ url: FLAG_DETAIL_EXTENSION, valueReference: input.evidence }],
    identifier: [resourceIdentifier(flagKey)],
    status: 'active',
    category: [concept([HL7.safetyFlag])],
    code: { coding: [kapCoding('phq9-self-harm'), coding(ITEM9)], text },
    subject: input.subject,
    period: { start: input.answeredAt },
  } satisfies Flag);
  const communication = buildCareTeamCommunication({
    key: selfHarmAlertResourceKey(input.key, 'communication'),
    patient: input.subject,
    about: [referenceTo(flag), input.evidence],
    category: 'self-harm-alert',
    text: `${text} Please assess the patient's safety now.`,
    sent: input.recordedAt,
    priority: 'urgent',
  });
  return { flag, communication };
}
