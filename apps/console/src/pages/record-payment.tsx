import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { Invoice, Payment, PaymentMethod } from '@mic/contracts';
import { billing } from '../api/admin.ts';
import { ErrorNotice, Options, SubmitButton, TextField, useSubmission } from '../components/forms.tsx';
import { ClosablePanel, Field } from '../components/ui.tsx';
import { useFormat } from '../format.ts';

const METHODS: readonly PaymentMethod[] = ['transfer', 'card', 'cash', 'provider'];

/**
 * A payment received for one invoice: its balance by default; a smaller amount leaves it partially
 * paid, a larger one is kept as credit for the tenant's next invoices.
 */
export function RecordPaymentForm({
  invoice,
  tenantName,
  onRecorded,
  onClose,
}: {
  invoice: Invoice;
  tenantName: string;
  onRecorded: (payment: Payment) => void;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const format = useFormat();
  const digits = format.minorDigits(invoice.currency);
  const [amount, setAmount] = useState(
    format.number(invoice.balanceMinor / 10 ** digits, { minimumFractionDigits: digits, useGrouping: false }),
  );
  const [method, setMethod] = useState<PaymentMethod>('transfer');
  const [reference, setReference] = useState('');
  const { pending, error, setError, run } = useSubmission();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const amountMinor = format.parseMoney(amount, invoice.currency);
    if (amountMinor === null || amountMinor <= 0) {
      setError(t('billing.pay.badAmount'));
      return;
    }
    void run(async () => {
      onRecorded(
        await billing.recordPayment({
          tenantId: invoice.tenantId,
          method,
          reference: reference.trim(),
          amountMinor,
          currency: invoice.currency,
          invoiceIds: [invoice.id],
        }),
      );
    });
  };
  return (
    <ClosablePanel
      id="record-payment-title"
      title={t('billing.pay.title', { number: invoice.number ?? '', tenant: tenantName })}
      onClose={onClose}
    >
      <form className="stack" onSubmit={submit} aria-labelledby="record-payment-title">
        <p className="muted">
          {t('billing.pay.balance', { balance: format.money(invoice.balanceMinor, invoice.currency) })}
        </p>
        <ErrorNotice error={error} />
        <div className="row">
          <TextField
            label={t('billing.pay.amount', { currency: invoice.currency })}
            name="paymentAmount"
            inputMode="decimal"
            value={amount}
            onChange={setAmount}
            required
          />
          <Field label={t('billing.method')}>
            <select name="paymentMethod" value={method} onChange={(e) => setMethod(e.target.value as PaymentMethod)}>
              <Options items={METHODS} value={(m) => m} label={(m) => t(`paymentMethod.${m}`)} />
            </select>
          </Field>
          <TextField
            label={t('billing.reference')}
            hint={t('billing.pay.referenceHint')}
            name="paymentReference"
            value={reference}
            onChange={setReference}
            required
            maxLength={200}
          />
        </div>
        <div>
          <SubmitButton pending={pending}>{t('billing.pay.record')}</SubmitButton>
        </div>
      </form>
    </ClosablePanel>
  );
}
