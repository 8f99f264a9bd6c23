/**
 * Which changes the palliative team is sent as webhooks: a revised CarePlan, and a message
 * for the care team (reminders, escalations, alerts). Policy, not storage: a resource type
 * missing here still reaches the EHR, just without a webhook.
 */
export const WEBHOOK_EVENTS = {
  CarePlan: 'careplan.updated',
  Communication: 'care-team.notification',
} as const;

export type WebhookEvent = (typeof WEBHOOK_EVENTS)[keyof typeof WEBHOOK_EVENTS];

/** The webhook event for a change to a resource of this type, or undefined for none. */
export function webhookEventFor(resourceType: string): WebhookEvent | undefined {
  return (WEBHOOK_EVENTS as Readonly<Record<string, WebhookEvent>>)[resourceType];
}
