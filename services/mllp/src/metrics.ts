import client from 'prom-client';

/**
 * HL7 v2 traffic in the process's default registry (served by the API's /metrics when they
 * share a process, else on METRICS_PORT): messages by type and ACK code, open connections.
 */
function singleton<T extends client.Metric>(name: string, make: () => T): T {
  return (client.register.getSingleMetric(name) as T | undefined) ?? make();
}

const messages = singleton(
  'kap_hl7_messages_total',
  () =>
    new client.Counter({
      name: 'kap_hl7_messages_total',
      help: 'HL7 v2 messages received over MLLP, by message type (MSH-9, e.g. ADT^A03) and ACK code (AA, AE, AR)',
      labelNames: ['message_type', 'ack'],
    }),
);
const connections = singleton(
  'kap_mllp_connections',
  () => new client.Gauge({ name: 'kap_mllp_connections', help: 'Open MLLP connections from interface engines' }),
);

/** A sender-controlled MSH-9 becomes a label only when it looks like one, so garbage cannot flood the label set. */
export function messageTypeLabel(code: string, trigger: string): string {
  if (!/^[A-Z0-9]{3}$/.test(code)) return 'unknown';
  return /^[A-Z0-9]{3}$/.test(trigger) ? `${code}^${trigger}` : code;
}

export function recordMessage(messageType: string, ack: string): void {
  messages.inc({ message_type: messageType, ack });
}

export function connectionOpened(): void {
  connections.inc();
}

export function connectionClosed(): void {
  connections.dec();
}
