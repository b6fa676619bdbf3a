import PDFDocument from 'pdfkit';
import type { BillingLocale } from '@mic/contracts';
import { formatDate, textsFor } from './i18n.ts';
import type { LineRow } from './invoices.ts';
import type { InvoiceRow } from './ledger.ts';
import { balanceOf } from './ledger.ts';
import { formatMoney } from './money.ts';

export interface Issuer {
  name: string;
  details: string | undefined;
}

/** Quantity in thousandths as people write it: 1000 -> "1", 500 -> "0.5" ("0,5" in Spanish). */
function quantity(milli: bigint, locale: BillingLocale): string {
  const whole = milli / 1000n;
  const frac = (milli < 0n ? -milli : milli) % 1000n;
  const wholeText = new Intl.NumberFormat(locale === 'es' ? 'es-MX' : 'en-US').format(whole);
  if (frac === 0n) return wholeText;
  return `${wholeText}${locale === 'es' ? ',' : '.'}${frac.toString().padStart(3, '0').replace(/0+$/, '')}`;
}

/** The invoice or credit note as a PDF (A4), in Spanish or English. */
export async function renderInvoicePdf(
  invoice: InvoiceRow,
  lines: LineRow[],
  locale: BillingLocale,
  issuer: Issuer,
): Promise<Buffer> {
  const t = textsFor(locale);
  const money = (minor: bigint) => formatMoney(minor, invoice.currency, locale);
  const doc = new PDFDocument({ size: 'A4', margin: 50, info: { Title: invoice.numberText ?? invoice.id } });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const title = invoice.kind === 'credit_note' ? t.creditNote : t.invoice;
  doc.font('Helvetica-Bold').fontSize(18).text(issuer.name, 50, 50);
  if (issuer.details)
    doc
      .font('Helvetica')
      .fontSize(9)
      .text(issuer.details, 50, doc.y + 2, { width: 250 });
  doc
    .font('Helvetica-Bold')
    .fontSize(16)
    .text(title, 320, 50, { width: 225, align: 'right' })
    .fontSize(11)
    .text(invoice.numberText ?? t.draft, 320, doc.y + 2, { width: 225, align: 'right' });
  doc.font('Helvetica').fontSize(9);
  const meta: [string, string][] = [];
  if (invoice.issuedAt) meta.push([t.issuedAt, formatDate(invoice.issuedAt, locale)]);
  if (invoice.dueAt && invoice.kind === 'invoice') meta.push([t.dueAt, formatDate(invoice.dueAt, locale)]);
  if (invoice.periodStart && invoice.periodEnd) {
    const last = new Date(invoice.periodEnd.getTime() - 1);
    meta.push([t.period, `${formatDate(invoice.periodStart, locale)} – ${formatDate(last, locale)}`]);
  }
  for (const [label, value] of meta) doc.text(`${label}: ${value}`, 320, doc.y + 2, { width: 225, align: 'right' });

  let y = Math.max(doc.y, 130) + 20;
  doc.font('Helvetica-Bold').fontSize(10).text(t.billTo, 50, y);
  doc
    .font('Helvetica')
    .fontSize(10)
    .text(invoice.billTo.name, 50, doc.y + 2);
  if (invoice.billTo.taxId) doc.text(`${t.taxId}: ${invoice.billTo.taxId}`);
  if (invoice.billTo.address) doc.text(invoice.billTo.address, { width: 300 });
  doc.text(invoice.billTo.email);
  if (invoice.note) doc.moveDown(0.5).text(invoice.note, { width: 495 });

  y = doc.y + 20;
  const cols = { description: 50, quantity: 300, unit: 360, amount: 460 };
  const header = () => {
    doc.font('Helvetica-Bold').fontSize(9);
    doc.text(t.description, cols.description, y, { width: 245 });
    doc.text(t.quantity, cols.quantity, y, { width: 55, align: 'right' });
    doc.text(t.unitPrice, cols.unit, y, { width: 95, align: 'right' });
    doc.text(t.amount, cols.amount, y, { width: 85, align: 'right' });
    y = doc.y + 4;
    doc.moveTo(50, y).lineTo(545, y).stroke();
    y += 6;
    doc.font('Helvetica').fontSize(9);
  };
  header();
  for (const line of lines) {
    if (y > 720) {
      doc.addPage();
      y = 50;
      header();
    }
    doc.text(line.description, cols.description, y, { width: 245 });
    const next = doc.y;
    doc.text(quantity(line.quantityMilli, locale), cols.quantity, y, { width: 55, align: 'right' });
    doc.text(money(line.unitPriceMinor), cols.unit, y, { width: 95, align: 'right' });
    doc.text(money(invoice.taxInclusive ? line.totalMinor : line.netMinor), cols.amount, y, {
      width: 85,
      align: 'right',
    });
    y = Math.max(next, doc.y) + 6;
  }
  doc.moveTo(300, y).lineTo(545, y).stroke();
  y += 8;
  const rate = `${invoice.taxName} ${(invoice.taxRateBp / 100).toLocaleString(locale === 'es' ? 'es-MX' : 'en-US')} %`;
  const totals: [string, string][] = [
    [t.subtotal, money(invoice.subtotalMinor)],
    [rate, money(invoice.taxMinor)],
    [t.total, money(invoice.totalMinor)],
  ];
  if (invoice.kind === 'invoice' && invoice.status !== 'draft') {
    totals.push([t.paid, money(invoice.paidMinor + invoice.creditedMinor)], [t.balance, money(balanceOf(invoice))]);
  }
  for (const [label, value] of totals) {
    doc.font(label === t.total ? 'Helvetica-Bold' : 'Helvetica').fontSize(10);
    doc.text(label, 300, y, { width: 150, align: 'right' });
    doc.text(`${value} ${invoice.currency}`, 455, y, { width: 90, align: 'right' });
    y = doc.y + 4;
  }
  if (invoice.taxInclusive)
    doc
      .font('Helvetica')
      .fontSize(8)
      .text(t.taxIncluded, 300, y + 4, { width: 245, align: 'right' });
  doc.end();
  return done;
}
