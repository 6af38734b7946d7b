import { formatPrice } from '../../../libs/money/index.js';

/** POST /orders: the order's total, priced by the shared library. */
export async function handler(event) {
  const order = JSON.parse(event.body ?? '{}');
  const cents = (order.items ?? []).reduce((sum, item) => sum + item.cents * item.quantity, 0);
  return { statusCode: 201, body: JSON.stringify({ total: formatPrice(cents) }) };
}
