import type { SendFieldError, TemplateParameterCounts, WhatsAppTemplateComponent } from '@mic/contracts';

type MetaComponent = Record<string, unknown>;

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** Distinct placeholders (`{{1}}`, `{{first_name}}`) in a text. */
function placeholders(text: unknown): number {
  if (typeof text !== 'string') return 0;
  return new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1])).size;
}

/** Button types that always take a parameter in a send (the copied code, the one-time password). */
const PARAMETER_BUTTONS = new Set(['COPY_CODE', 'OTP']);

/** The parameters a send of a template must give, read from Meta's components. */
export function parameterCounts(components: readonly unknown[]): TemplateParameterCounts {
  const counts: TemplateParameterCounts = { header: 0, body: 0, buttons: [] };
  for (const raw of components) {
    if (raw === null || typeof raw !== 'object') continue;
    const component = raw as MetaComponent;
    const type = typeof component.type === 'string' ? component.type.toUpperCase() : '';
    if (type === 'HEADER') {
      const format = typeof component.format === 'string' ? component.format.toUpperCase() : 'TEXT';
      counts.header = format === 'TEXT' ? placeholders(component.text) : 1;
    } else if (type === 'BODY') {
      counts.body = placeholders(component.text);
    } else if (type === 'BUTTONS' && Array.isArray(component.buttons)) {
      component.buttons.forEach((button: unknown, index) => {
        const b = (button ?? {}) as MetaComponent;
        const buttonType = typeof b.type === 'string' ? b.type.toUpperCase() : '';
        const parameters = buttonType === 'URL' ? placeholders(b.url) : PARAMETER_BUTTONS.has(buttonType) ? 1 : 0;
        if (parameters > 0) counts.buttons.push({ index, type: buttonType, parameters });
      });
    }
  }
  return counts;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Compares a send's components with what the template takes; each error names its field under
 * `prefix` (`message.template.components`, `recipients[12].components`). Quick-reply buttons may
 * carry a payload, which Meta accepts without the template asking for one.
 */
export function parameterErrors(
  counts: TemplateParameterCounts,
  components: readonly WhatsAppTemplateComponent[],
  prefix: string,
): SendFieldError[] {
  const errors: SendFieldError[] = [];
  const given = { header: 0, body: 0 };
  const buttons = new Set<number>();
  components.forEach((component, i) => {
    const field = `${prefix}[${i}]`;
    if (component.type === 'header' || component.type === 'body') {
      const expected = counts[component.type];
      given[component.type] = component.parameters.length;
      if (component.parameters.length !== expected) {
        errors.push({
          field: `${field}.parameters`,
          message: `the template's ${component.type} takes ${plural(expected, 'parameter')} (${component.parameters.length} given)`,
        });
      }
      return;
    }
    buttons.add(component.index);
    const button = counts.buttons.find((b) => b.index === component.index);
    if (!button && component.subType !== 'quick_reply') {
      errors.push({ field: `${field}.index`, message: `the template's button ${component.index} takes no parameter` });
    }
  });
  for (const part of ['header', 'body'] as const) {
    if (counts[part] > 0 && given[part] === 0 && !components.some((c) => c.type === part)) {
      errors.push({
        field: prefix,
        message: `the template's ${part} takes ${plural(counts[part], 'parameter')}: add a ${part} component`,
      });
    }
  }
  for (const button of counts.buttons) {
    if (!buttons.has(button.index)) {
      errors.push({
        field: prefix,
        message: `the template's button ${button.index} (${button.type}) takes a parameter: add a button component with index ${button.index}`,
      });
    }
  }
  return errors;
}
