import { formatPrice } from '../../../libs/money/index.js';

/** GET /invoices/{id}: an invoice line per item, priced by the shared library. */
export async function handler(event) {
  const items = [{ name: 'book', cents: 1250 }];
  const lines = items.map((item) => `${item.name}: ${formatPrice(item.cents)}`);
  return { statusCode: 200, body: JSON.stringify({ id: event.pathParameters?.id, lines }) };
}
