import type { Timeline, TimelineEntry } from '@mic/contracts';
import type { Logger } from '@mic/platform';

/** The company a timeline is for: sources that know tenants (billing, audit) use `tenantId`. */
export interface TimelineCompany {
  id: string;
  name: string;
  tenantId: string | null;
}

/**
 * A module's entries for a company's timeline (billing: invoices and payments). `entries` answers
 * up to `limit` entries strictly older than `before` (all, when null), newest first.
 */
export interface TimelineSource {
  name: string;
  entries(company: TimelineCompany, page: { before: Date | null; limit: number }): Promise<TimelineEntry[]>;
}

/**
 * One timeline per company, merged from every registered source. Each source pages on its own
 * `before`; the merge keeps the newest `limit`, and the oldest kept is the next page's `before`.
 */
export class CompanyTimeline {
  readonly #sources = new Map<string, TimelineSource>();
  readonly #logger: Pick<Logger, 'warn'>;

  constructor(logger: Pick<Logger, 'warn'>) {
    this.#logger = logger;
  }

  register(source: TimelineSource): void {
    if (this.#sources.has(source.name)) throw new Error(`timeline source ${source.name} is already registered`);
    this.#sources.set(source.name, source);
  }

  async of(company: TimelineCompany, page: { before: Date | null; limit: number }): Promise<Timeline> {
    const sources = [...this.#sources.values()];
    const answers = await Promise.allSettled(sources.map((s) => s.entries(company, page)));
    const missingSources: string[] = [];
    const all: TimelineEntry[] = [];
    answers.forEach((answer, i) => {
      if (answer.status === 'fulfilled') all.push(...answer.value);
      else {
        missingSources.push(sources[i]!.name);
        this.#logger.warn({ err: answer.reason, source: sources[i]!.name }, 'a timeline source failed');
      }
    });
    all.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    const entries = all.slice(0, page.limit);
    return { entries, nextBefore: all.length > page.limit ? entries.at(-1)!.at : null, missingSources };
  }
}
