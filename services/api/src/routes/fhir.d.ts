import { Router } from 'express';
import type { AppDeps } from '../deps';
/**
 * The FHIR R4 face of the adapter (http://hl7.org/fhir/R4/http.html): its CapabilityStatement,
 * read, vread and search of what it produced, its Questionnaires, and screenings submitted
 * as QuestionnaireResponses.
 */
export declare function fhirRoutes(deps: AppDeps): Router;
//# sourceMappingURL=fhir.d.ts.map