import { isResourceType as medplumIsResourceType } from '@medplum/core';
import type { CodeSystem, PlanDefinition, Questionnaire, ResourceType } from '@medplum/fhirtypes';
import { buildKapCodeSystem } from './code-system';
import { buildCoursePlanDefinition } from './plan-definition';
import { buildMeasureQuestionnaire } from './measure-questionnaire';
import { buildScreeningQuestionnaire } from './questionnaire';
import { loadDefinitions } from './validate';

export type DefinitionalResource = Questionnaire | PlanDefinition | CodeSystem;

/**
 * The canonical resources the adapter publishes and its output refers to: the screening
 * Questionnaire, the PHQ-9 and GAD-7 measure Questionnaires, the course PlanDefinition and the project's CodeSystem. Built once.
 */
export const DEFINITIONAL_RESOURCES: readonly DefinitionalResource[] = Object.freeze([
  buildScreeningQuestionnaire(),
  buildMeasureQuestionnaire('phq9'),
  buildMeasureQuestionnaire('gad7'),
  buildCoursePlanDefinition(),
  buildKapCodeSystem(),
]);

/** Whether `type` names an R4 resource type (the definitions are loaded on first use). */
export function isResourceType(type: string): type is ResourceType {
  loadDefinitions();
  return medplumIsResourceType(type) === true;
}
