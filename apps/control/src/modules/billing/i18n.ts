import type { BillingLocale } from '@mic/contracts';

/** What billing writes for people (PDFs, e-mails, line descriptions), in Spanish (default) and English. */
export const TEXT = {
  es: {
    invoice: 'Factura',
    creditNote: 'Nota de crédito',
    number: 'Número',
    draft: 'BORRADOR',
    issuedAt: 'Fecha de emisión',
    dueAt: 'Fecha de vencimiento',
    period: 'Periodo',
    billTo: 'Facturar a',
    taxId: 'RFC',
    description: 'Concepto',
    quantity: 'Cantidad',
    unitPrice: 'Precio unitario',
    amount: 'Importe',
    subtotal: 'Subtotal',
    total: 'Total',
    paid: 'Pagado',
    balance: 'Saldo',
    corrects: 'Corrige la factura',
    taxIncluded: 'Precios con impuestos incluidos',
    subscriptionLine: (plan: string, from: string, to: string) => `Suscripción ${plan} (${from} a ${to})`,
    partialSubscriptionLine: (plan: string, from: string, to: string) =>
      `Suscripción ${plan}, parte del periodo (${from} a ${to})`,
    overageLine: (over: string, included: string) =>
      `Mensajes adicionales: ${over} sobre ${included} incluidos (precio por 1,000)`,
    prorationCharge: (plan: string) => `Prorrateo: ${plan}, parte transcurrida del periodo`,
    prorationCredit: (plan: string) => `Prorrateo: crédito de ${plan}, parte transcurrida del periodo`,
    creditOf: (number: string) => `Crédito sobre la factura ${number}`,
    invoiceSubject: (number: string) => `Factura ${number}`,
    invoiceBody: (name: string, number: string, total: string, due: string) =>
      `Hola ${name}:\n\nAdjuntamos la factura ${number} por ${total}, con vencimiento el ${due}.\n\nGracias.`,
    creditNoteBody: (name: string, number: string, total: string) =>
      `Hola ${name}:\n\nAdjuntamos la nota de crédito ${number} por ${total}.\n\nGracias.`,
    reminderSubject: (number: string, days: number) => `Recordatorio: la factura ${number} venció hace ${days} días`,
    reminderBody: (name: string, number: string, balance: string, due: string, pauseIn: number) =>
      `Hola ${name}:\n\nLa factura ${number} venció el ${due} y tiene un saldo pendiente de ${balance}.\n` +
      (pauseIn > 0
        ? `Si no recibimos el pago, el servicio se pausará en ${pauseIn} días.\n`
        : 'El servicio se pausará hasta recibir el pago.\n') +
      '\nSi ya pagó, ignore este mensaje.',
  },
  en: {
    invoice: 'Invoice',
    creditNote: 'Credit note',
    number: 'Number',
    draft: 'DRAFT',
    issuedAt: 'Issue date',
    dueAt: 'Due date',
    period: 'Period',
    billTo: 'Bill to',
    taxId: 'Tax ID',
    description: 'Description',
    quantity: 'Quantity',
    unitPrice: 'Unit price',
    amount: 'Amount',
    subtotal: 'Subtotal',
    total: 'Total',
    paid: 'Paid',
    balance: 'Balance due',
    corrects: 'Corrects invoice',
    taxIncluded: 'Prices include tax',
    subscriptionLine: (plan: string, from: string, to: string) => `${plan} subscription (${from} to ${to})`,
    partialSubscriptionLine: (plan: string, from: string, to: string) =>
      `${plan} subscription, part of the period (${from} to ${to})`,
    overageLine: (over: string, included: string) =>
      `Additional messages: ${over} over ${included} included (price per 1,000)`,
    prorationCharge: (plan: string) => `Proration: ${plan}, elapsed part of the period`,
    prorationCredit: (plan: string) => `Proration: credit of ${plan}, elapsed part of the period`,
    creditOf: (number: string) => `Credit on invoice ${number}`,
    invoiceSubject: (number: string) => `Invoice ${number}`,
    invoiceBody: (name: string, number: string, total: string, due: string) =>
      `Hello ${name},\n\nPlease find attached invoice ${number} for ${total}, due on ${due}.\n\nThank you.`,
    creditNoteBody: (name: string, number: string, total: string) =>
      `Hello ${name},\n\nPlease find attached credit note ${number} for ${total}.\n\nThank you.`,
    reminderSubject: (number: string, days: number) => `Reminder: invoice ${number} is ${days} days overdue`,
    reminderBody: (name: string, number: string, balance: string, due: string, pauseIn: number) =>
      `Hello ${name},\n\nInvoice ${number} was due on ${due} and has ${balance} outstanding.\n` +
      (pauseIn > 0
        ? `If we do not receive the payment, the service will be paused in ${pauseIn} days.\n`
        : 'The service will stay paused until the payment arrives.\n') +
      '\nIf you have paid already, please ignore this message.',
  },
} as const;

export type Texts = (typeof TEXT)[BillingLocale];

export const textsFor = (locale: string): Texts => (locale === 'en' ? TEXT.en : TEXT.es);

/** A date as the reader's locale writes it, in UTC (billing days are UTC days). */
export function formatDate(date: Date, locale: string): string {
  return new Intl.DateTimeFormat(locale === 'en' ? 'en-US' : 'es-MX', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    timeZone: 'UTC',
  }).format(date);
}

export function formatCount(n: number, locale: string): string {
  return new Intl.NumberFormat(locale === 'en' ? 'en-US' : 'es-MX').format(n);
}
