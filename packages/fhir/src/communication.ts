import type { Communication, Patient, Reference } from '@medplum/fhirtypes';
import type { CommunicationCategory } from './code-system';
import { kapConcept } from './datatypes';
import { resourceId, resourceIdentifier } from './resource-ids';
import { validateResource } from './validate';

/**
 * A notification the adapter sent to the palliative care team (a reminder, an escalation, a
 * blood-pressure alert, a care-plan update), as a Communication.
 * @see https://hl7.org/fhir/R4/communication.html
 */

export interface CareTeamCommunicationInput {
  /** The business key, e.g. `follow-up/<id>/escalation`. */
  key: string;
  patient: Reference<Patient>;
  /** What it is about: the Task, Flag, CarePlan... */
  about: Reference[];
  category: CommunicationCategory;
  text: string;
  sent: string;
  priority: 'routine' | 'urgent' | 'stat';
}

/**
 * A `completed` Communication (it was sent) with its category from our CodeSystem, the text
 * as `payload.contentString`. No recipient: routing to the team is the EHR's, not the adapter's.
 */
export function buildCareTeamCommunication(input: CareTeamCommunicationInput): Communication {
  const communication: Communication = {
    resourceType: 'Communication',
    id: resourceId(input.key),
    identifier: [resourceIdentifier(input.key)],
    status: 'completed',
    category: [kapConcept(input.category)],
    priority: input.priority,
    subject: input.patient,
    ...(input.about.length > 0 ? { about: [...input.about] } : {}),
    sent: input.sent,
    payload: [{ contentString: input.text }],
  };
  return validateResource(communication);
}
