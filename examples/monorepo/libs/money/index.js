/** How every service of the shop writes an amount: the shared library both services import. */
export function formatPrice(cents, currency = 'EUR') {
  if (!Number.isInteger(cents)) {
    throw new TypeError(`an amount is a whole number of cents, not ${cents}`);
  }
  return `${(cents / 100).toFixed(2)} ${currency}`;
}
