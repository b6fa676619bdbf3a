import { useTranslation } from 'react-i18next';

const LOCALES = { es: 'es-MX', en: 'en-US' } as const;

const localeOf = (language: string): string => LOCALES[language as keyof typeof LOCALES] ?? LOCALES.es;

/** Minor units per major unit of a currency, as Intl knows it (MXN 100, JPY 1, KWD 1000). */
function minorDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

export interface Formatters {
  date(iso: string | null | undefined): string;
  dateTime(iso: string | null | undefined): string;
  time(iso: string | null | undefined): string;
  number(value: number, options?: Intl.NumberFormatOptions): string;
  money(minor: number, currency: string): string;
  relative(iso: string | null | undefined): string;
  /** Major units typed by the operator ("1.234,50" or "1,234.50") to integer minor units; null when unreadable. */
  parseMoney(text: string, currency: string): number | null;
  minorDigits(currency: string): number;
}

export function formatters(language: string): Formatters {
  const locale = localeOf(language);
  const valid = (iso: string | null | undefined): Date | null => {
    if (!iso) return null;
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? null : d;
  };
  const dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: 'medium' });
  const dateTimeFormat = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
  const timeFormat = new Intl.DateTimeFormat(locale, { timeStyle: 'short' });
  const relative = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const decimalSeparator = new Intl.NumberFormat(locale).formatToParts(1.5).find((p) => p.type === 'decimal')?.value;
  return {
    date: (iso) => (valid(iso) ? dateFormat.format(valid(iso)!) : '—'),
    dateTime: (iso) => (valid(iso) ? dateTimeFormat.format(valid(iso)!) : '—'),
    time: (iso) => (valid(iso) ? timeFormat.format(valid(iso)!) : '—'),
    number: (value, options) => new Intl.NumberFormat(locale, options).format(value),
    money: (minor, currency) => {
      const digits = minorDigits(currency);
      try {
        return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(minor / 10 ** digits);
      } catch {
        return `${(minor / 10 ** digits).toFixed(digits)} ${currency}`;
      }
    },
    relative: (iso) => {
      const d = valid(iso);
      if (!d) return '—';
      const seconds = Math.round((d.getTime() - Date.now()) / 1000);
      const abs = Math.abs(seconds);
      if (abs < 60) return relative.format(seconds, 'second');
      if (abs < 3600) return relative.format(Math.round(seconds / 60), 'minute');
      if (abs < 86_400) return relative.format(Math.round(seconds / 3600), 'hour');
      return relative.format(Math.round(seconds / 86_400), 'day');
    },
    parseMoney: (text, currency) => {
      const digits = minorDigits(currency);
      const decimal = decimalSeparator ?? '.';
      const group = decimal === ',' ? '.' : ',';
      const normalized = text.trim().split(group).join('').replace(decimal, '.').replace(/\s/g, '');
      if (!/^-?\d+(\.\d+)?$/.test(normalized)) return null;
      return Math.round(Number(normalized) * 10 ** digits);
    },
    minorDigits,
  };
}

/** The formatters of the language the console shows now; components re-render when it changes. */
export function useFormat(): Formatters {
  const { i18n } = useTranslation();
  return formatters(i18n.language);
}
