/**
 * The SQS worker: accepts the valid order events of a batch and reports the others as failed
 * items (partial batch response), so that only they are retried, then sent to a dead-letter queue.
 */
import { parseOrder } from './orders.js';

export async function handler(event) {
  const batchItemFailures = [];
  let accepted = 0;
  for (const record of event?.Records ?? []) {
    const order = parseOrder(record.body);
    if (order === undefined) {
      batchItemFailures.push({ itemIdentifier: record.messageId });
    } else {
      accepted += 1;
    }
  }
  console.log(JSON.stringify({ stage: process.env.STAGE, accepted, failed: batchItemFailures.length }));
  return { batchItemFailures };
}
