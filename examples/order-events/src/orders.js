/**
 * An order event as the worker accepts it.
 */
import { z } from 'zod';

export const Order = z.object({
  orderId: z.string().regex(/^ord-[0-9a-z]{4,32}$/),
  amount: z.number().positive(),
  currency: z.enum(['EUR', 'USD']),
});

/** The order in an SQS message body, or undefined when the body is not a valid order. */
export function parseOrder(body) {
  let value;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  const result = Order.safeParse(value);
  return result.success ? result.data : undefined;
}
