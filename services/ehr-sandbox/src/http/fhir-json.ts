/** The FHIR JSON media type, sent on every FHIR response. @see http://hl7.org/fhir/R4/http.html#mime-type */
export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Media types accepted as FHIR JSON request bodies; clients often send plain JSON. */
export const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json-patch+json', 'application/*+json'];

/** Form bodies are accepted only where R4 defines them: `POST [type]/_search`. */
export const FORM_TYPE = 'application/x-www-form-urlencoded';
