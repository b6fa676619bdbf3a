import { useState, type ComponentProps, type FormEvent, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { errorText, Field, Notice } from './ui.tsx';

/**
 * Runs what a form or button asks of the API, keeping whether it is under way and, if it failed,
 * the message to show. `describe` turns a failure into that message where a page knows better than
 * the generic wording (a wrong password, an expired link).
 */
export function useSubmission() {
  const { t } = useTranslation();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (work: () => Promise<void>, describe?: (caught: unknown) => string) => {
    setPending(true);
    setError(null);
    try {
      await work();
    } catch (caught) {
      setError(describe ? describe(caught) : errorText(caught, t));
    } finally {
      setPending(false);
    }
  };
  /** An `onSubmit` handler that keeps the browser from posting the form itself. */
  const submit = (work: () => Promise<void>, describe?: (caught: unknown) => string) => (event: FormEvent) => {
    event.preventDefault();
    void run(work, describe);
  };
  return { pending, error, setError, run, submit };
}

/** The form's main button: says the form is working, and cannot be pressed twice, while it is. */
export function SubmitButton({
  pending,
  disabled,
  children,
}: {
  pending: boolean;
  disabled?: boolean;
  children: ReactNode;
}) {
  const { t } = useTranslation();
  return (
    <button type="submit" className="primary" disabled={pending || disabled}>
      {pending ? t('common.working') : children}
    </button>
  );
}

export function ErrorNotice({ error }: { error: string | null }) {
  return error ? <Notice tone="error">{error}</Notice> : null;
}

/** The options of a select, optionally led by an empty "all" choice. */
export function Options<T>({
  items,
  value,
  label,
  allLabel,
}: {
  items: readonly T[];
  value: (item: T) => string;
  label: (item: T) => string;
  allLabel?: string | undefined;
}) {
  return (
    <>
      {allLabel !== undefined ? <option value="">{allLabel}</option> : null}
      {items.map((item) => (
        <option key={value(item)} value={value(item)}>
          {label(item)}
        </option>
      ))}
    </>
  );
}

/** Options that pick one of a list of named things by id. */
export function NamedOptions({
  items,
  allLabel,
}: {
  items: readonly { id: string; name: string }[];
  allLabel?: string;
}) {
  return <Options items={items} value={(item) => item.id} label={(item) => item.name} allLabel={allLabel} />;
}

/** A labelled input whose value the page keeps; `onChange` gets the new text. */
export function TextField({
  label,
  hint,
  value,
  onChange,
  ...input
}: Omit<ComponentProps<'input'>, 'value' | 'onChange'> & {
  label: string;
  hint?: string;
  value: string | number;
  onChange: (value: string) => void;
}) {
  return (
    <Field label={label} hint={hint}>
      <input {...input} value={value} onChange={(event) => onChange(event.target.value)} />
    </Field>
  );
}

/**
 * A filter typed into: it applies when the operator presses Enter or leaves the field, not on every
 * keystroke (each change reloads a list).
 */
export function FilterField({
  label,
  value,
  placeholder,
  onApply,
}: {
  label: string;
  value: string;
  placeholder?: string;
  onApply: (value: string) => void;
}) {
  return (
    <Field label={label}>
      <input
        type="search"
        defaultValue={value}
        {...(placeholder ? { placeholder } : {})}
        onKeyDown={(e) => {
          if (e.key === 'Enter') onApply(e.currentTarget.value.trim());
        }}
        onBlur={(e) => onApply(e.currentTarget.value.trim())}
      />
    </Field>
  );
}
