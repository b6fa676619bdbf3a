import { useEffect, useId, useRef, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client.ts';
import type { Resource } from '../api/resource.ts';

export function PageHeader({ title, actions }: { title: string; actions?: ReactNode }) {
  return (
    <header className="page-header">
      <h1>{title}</h1>
      {actions ? <div className="page-actions">{actions}</div> : null}
    </header>
  );
}

export function Loading({ label }: { label?: string }) {
  const { t } = useTranslation();
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label ?? t('common.loading')}
    </p>
  );
}

/** What went wrong, in the operator's language, with the API's own detail when it gave one. */
export function errorText(error: unknown, t: ReturnType<typeof useTranslation>['t']): string {
  if (!(error instanceof ApiError) || error.isNetwork) return t('errors.network');
  if (error.status === 403) return t('errors.forbidden');
  if (error.status === 404) return t('errors.notFound');
  if (error.status === 503) return t('errors.unavailable', { detail: error.problem?.detail ?? '' });
  const detail = error.problem?.detail ?? error.problem?.title;
  return detail ? t('errors.withDetail', { detail }) : t('errors.generic', { status: error.status });
}

export function ErrorState({ error, onRetry }: { error: ApiError; onRetry?: () => void }) {
  const { t } = useTranslation();
  return (
    <div className="state state-error" role="alert">
      <p>{errorText(error, t)}</p>
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          {t('common.retry')}
        </button>
      ) : null}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state state-empty">{children}</p>;
}

/** Loading, error and empty states around a resource; `children` renders the loaded data. */
export function Loaded<T>({
  resource,
  isEmpty,
  empty,
  children,
}: {
  resource: Resource<T>;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  if (resource.state === 'loading') return <Loading />;
  if (resource.state === 'error' && resource.data === undefined) {
    return <ErrorState error={resource.error} onRetry={resource.reload} />;
  }
  const data = resource.data as T;
  return (
    <>
      {resource.state === 'error' ? <ErrorState error={resource.error} onRetry={resource.reload} /> : null}
      {isEmpty?.(data) ? <Empty>{empty}</Empty> : children(data)}
    </>
  );
}

export type Tone = 'pass' | 'warn' | 'fail' | 'neutral' | 'info';

export function Badge({ tone, children }: { tone: Tone; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

/** A result the operator should see after an action: announced to screen readers as it appears. */
export function Notice({
  tone,
  children,
  onDismiss,
}: {
  tone: 'success' | 'error';
  children: ReactNode;
  onDismiss?: () => void;
}) {
  const { t } = useTranslation();
  return (
    <div className={`notice notice-${tone}`} role={tone === 'error' ? 'alert' : 'status'}>
      <div>{children}</div>
      {onDismiss ? (
        <button type="button" className="link" onClick={onDismiss} aria-label={t('common.dismiss')}>
          ×
        </button>
      ) : null}
    </div>
  );
}

/**
 * A modal question before an action that changes something: a native <dialog>, so focus stays in
 * it and Escape cancels it.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  danger,
  pending,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  pending?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onCancel();
      }}
    >
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          onConfirm();
        }}
      >
        <h2 id={titleId}>{title}</h2>
        <div className="dialog-body">{children}</div>
        <div className="dialog-actions">
          <button type="button" onClick={onCancel} disabled={pending}>
            {t('common.cancel')}
          </button>
          <button type="submit" className={danger ? 'danger' : 'primary'} disabled={pending} autoFocus>
            {pending ? t('common.working') : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function Field({ label, hint, children }: { label: string; hint?: string | undefined; children: ReactNode }) {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      {children}
      {hint ? <span className="field-hint">{hint}</span> : null}
    </label>
  );
}

/** A titled part of a page, named for assistive technology by its heading. */
export function Section({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <section aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/**
 * A panel opened from a list (a preview, an inspector), with its own close button. Opening it moves
 * the keyboard focus to its heading, so a keyboard or screen reader user lands on what they opened;
 * closing it gives the focus back to what opened it.
 */
export function ClosablePanel({
  id,
  title,
  onClose,
  children,
}: {
  id: string;
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  const { t } = useTranslation();
  const heading = useRef<HTMLHeadingElement>(null);
  const opener = useRef<Element | null>(null);
  useEffect(() => {
    opener.current ??= document.activeElement;
    heading.current?.focus();
    heading.current?.scrollIntoView?.({ block: 'nearest' });
  }, [id, title]);
  const close = () => {
    const back = opener.current;
    onClose();
    if (back instanceof HTMLElement && back.isConnected) back.focus();
  };
  return (
    <section className="panel" aria-labelledby={id}>
      <div className="card-head">
        <h2 id={id} ref={heading} tabIndex={-1}>
          {title}
        </h2>
        <button type="button" onClick={close}>
          {t('common.close')}
        </button>
      </div>
      {children}
    </section>
  );
}

export interface Figure {
  key: string;
  label: string;
  value: ReactNode;
  /** Marks the figure for tests and scripts that read it from the page. */
  metric?: string;
}

/** Headline numbers, label above value. */
export function Figures({ items, testId }: { items: readonly Figure[]; testId?: string }) {
  return (
    <dl className="figures" data-testid={testId}>
      {items.map((item) => (
        <div key={item.key}>
          <dt>{item.label}</dt>
          <dd data-metric={item.metric}>{item.value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** How an action the operator asked for ended. */
export type Outcome = { tone: 'success' | 'error'; text: string };

/**
 * The outcome of the last action, until the operator dismisses it; `testId` marks its text. With
 * `children` (even `null`), the text is a paragraph followed by them.
 */
export function OutcomeNotice({
  outcome,
  testId,
  onDismiss,
  children,
}: {
  outcome: Outcome | null;
  testId: string;
  onDismiss: () => void;
  children?: ReactNode;
}) {
  if (!outcome) return null;
  return (
    <Notice tone={outcome.tone} onDismiss={onDismiss}>
      {children !== undefined ? (
        <>
          <p data-testid={testId}>{outcome.text}</p>
          {children}
        </>
      ) : (
        <span data-testid={testId}>{outcome.text}</span>
      )}
    </Notice>
  );
}
