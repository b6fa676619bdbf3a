import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { bodyGenerator, sendWebhooks, whatsappTextMessage } from '@mic/meta-sandbox';
import { startNexusSim, type NexusSim } from '@mic/nexus-sim';
import { eventually, freePort, startTestMailbox, type TestMailbox } from '@mic/platform/testing';
import { mailText } from '../../apps/control/src/testing.ts';
import { totpCode } from '../../apps/control/src/modules/auth/index.ts';
import {
  ROOT,
  controlCall,
  controlConfigVersion,
  engineRuns,
  micEnv,
  operatorLogin,
  runMic,
  systemStatus,
  waitForHealth,
  type MicEnv,
  type MicProcess,
  type OperatorSession,
} from '../e2e/harness.ts';
import { HAS_CHROMIUM, SCREENSHOTS, SKIP_REASON, launchChromium, type Browser } from './chromium.ts';

/**
 * The operator console in a real browser against a real `mic start`: what an operator does and
 * sees, in Spanish (the default) and English. Each main page leaves a screenshot in
 * test-results/screenshots/.
 */

const APP_SECRET = 'console-browser-meta-app-secret';
const PHONE = '100000000077';
/** The hub's own WhatsApp number (tenant zero): its broadcasts and the CRM's conversations. */
const HUB_PHONE = '100000000079';
const TENANT = 'Panadería Browser';

let env: MicEnv;
let mailbox: TestMailbox | undefined;
let mic: MicProcess;
let browser: Browser;
let page: Page;
let owner: OperatorSession;
let sim: NexusSim | undefined;
let simPort: number;
let tenantUrl: string;
/** The instance's API token, as the console showed it once. */
let apiToken: string;
/** Uncaught errors in the page: a console that throws fails the test that made it throw. */
const pageErrors: string[] = [];

/** A page of the console, through the main navigation as the operator goes there. */
const go = (name: string) =>
  page
    .getByRole('navigation', { name: /Principal|Main/ })
    .getByRole('link', { name })
    .click();

const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

/** A WhatsApp text from a customer to the tenant's number, as Meta posts it to the engine. */
async function customerWrites(index: number): Promise<void> {
  const report = await sendWebhooks({
    url: `${mic.engineUrl}/meta/webhook`,
    appSecret: APP_SECRET,
    generator: (i) => bodyGenerator('whatsapp-text', { channelId: PHONE, customers: 1 })(i + index),
    count: 1,
  });
  expect(report.summary.ok).toBe(1);
}

describe.skipIf(!HAS_CHROMIUM)(`the operator console in chromium${SKIP_REASON}`, () => {
  beforeAll(async () => {
    // What `npm start` does first: build the console when its build is missing or stale.
    execFileSync(process.execPath, [join(ROOT, 'apps', 'console', 'ensure-built.ts')], { stdio: 'inherit' });
    mailbox = await startTestMailbox();
    env = await micEnv({
      ACCOUNT_SMTP_URL: mailbox.url,
      META_APP_SECRET: APP_SECRET,
      DELIVERY_RETRY_SCHEDULE: '0s,100ms,100ms',
      BREAKER_THRESHOLD: '50',
      QUEUE_POLLING_INTERVAL: '500ms',
      REPORTS_FLUSH_INTERVAL: '500ms',
      METRICS_SAMPLE_INTERVAL: '1s',
      REPORTS_STATS_INTERVAL: '1s',
    });
    mic = runMic(['start'], env);
    // Generous: on a busy 2-core machine the two planes' migrations alone can take half a minute.
    try {
      await waitForHealth(`${mic.engineUrl}/health`, 'pass', 150_000);
      await waitForHealth(`${mic.controlUrl}/health/api`, 'pass', 30_000);
    } catch (error) {
      throw new Error(`mic start did not come up: ${(error as Error).message}\n${mic.output().slice(-3_000)}`, {
        cause: error,
      });
    }
    owner = await operatorLogin(mic, env);
    simPort = await freePort();
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${error.message}\n${error.stack ?? ''}`));
  });

  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') {
      await page
        .screenshot({ path: join(SCREENSHOTS, `failed-${context.task.name.slice(0, 40)}.png`) })
        .catch(() => {});
    }
    expect(pageErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await sim?.stop();
    await mic?.stop(5_000);
    await env?.cleanup();
    await mailbox?.stop();
  });

  it('sends a visitor to sign-in and signs the operator in, in Spanish by default', async () => {
    await page.goto(`${mic.controlUrl}/tenants`);
    await page.getByRole('heading', { name: 'Iniciar sesión' }).waitFor();
    await shot('sign-in');
    await page.getByLabel('Correo electrónico').fill(owner.email);
    await page.getByLabel('Contraseña').fill('not-the-password');
    await page.getByRole('button', { name: 'Entrar' }).click();
    await page.getByText('Correo o contraseña incorrectos.').waitFor();
    await page.getByLabel('Contraseña').fill(owner.password);
    await page.getByRole('button', { name: 'Entrar' }).click();
    // Back where the operator was going.
    await page.getByRole('heading', { name: 'Clientes', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/tenants');
  });

  it('shows the health of every component on the overview', async () => {
    await go('Resumen');
    await page.getByRole('heading', { name: 'Componentes' }).waitFor();
    for (const component of ['api', 'db', 'engine']) {
      await expect
        .poll(() => page.getByTestId(`health-${component}`).textContent(), { timeout: 15_000 })
        .toContain('Correcto');
    }
    await page.getByText('No hay alertas abiertas.').waitFor();
    await shot('overview');
  });

  it('creates a tenant with an instance (credentials shown once) and a channel (token write-only)', async () => {
    await go('Clientes');
    await page.getByRole('heading', { name: 'Clientes', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Nuevo cliente' }).click();
    await page.getByLabel('Nombre').fill(TENANT);
    await page.getByRole('button', { name: 'Crear cliente' }).click();
    await page.getByRole('heading', { name: TENANT, level: 1 }).waitFor();
    tenantUrl = page.url();
    await page.getByText('Este cliente aún no tiene instancias.').waitFor();

    await page.getByLabel('Nombre', { exact: true }).fill('Sucursal Centro');
    await page.getByLabel('URL de entrega (webhook)').fill(`http://127.0.0.1:${simPort}/hooks/mic`);
    await page.getByRole('button', { name: 'Crear instancia' }).click();
    await page.getByText('Instancia Sucursal Centro creada.').waitFor();
    apiToken = (await page.locator('dd code.secret').nth(0).textContent()) ?? '';
    const signingSecret = (await page.locator('dd code.secret').nth(1).textContent()) ?? '';
    expect(signingSecret).toMatch(/^whsec_/);
    // The instance the engine will deliver to, holding the secret the console showed once.
    sim = await startNexusSim({ port: simPort, secrets: [signingSecret] });

    const token = `EAAG-browser-${PHONE}`;
    env.graph.addObject({ id: `waba${PHONE}`, kind: 'whatsapp-business-account', token });
    env.graph.addObject({ id: PHONE, kind: 'whatsapp-phone-number', token });
    await page.getByLabel('Id del número de teléfono').fill(PHONE);
    await page.getByLabel('Id de la cuenta de WhatsApp Business').fill(`waba${PHONE}`);
    await page.getByLabel('Token de acceso').fill(token);
    await page.getByRole('button', { name: 'Conectar', exact: true }).click();
    await page
      .getByTestId('action-result')
      .filter({ hasText: `Canal ${PHONE} conectado (estado: Conectado).` })
      .waitFor();
    // The form forgot the token; the table shows only its fingerprint and last 4.
    expect(await page.getByLabel('Token de acceso').inputValue()).toBe('');
    const row = page.getByRole('row').filter({ hasText: PHONE });
    await expect.poll(() => row.textContent()).toContain(`termina en ${token.slice(-4)}`);
    expect(await page.content()).not.toContain(token);
    await shot('tenant');

    await go('Clientes');
    await page.getByLabel('Buscar').fill('panadería');
    await page.getByRole('link', { name: TENANT }).waitFor();
    await page.getByLabel('Estado').selectOption('paused');
    await page.getByText('Ningún cliente coincide con la búsqueda.').waitFor();
    await page.getByLabel('Estado').selectOption('');
    await shot('tenants');
  });

  it('counts a message from Meta on the overview once the instance has it', async () => {
    // The engine routes the number once it runs control's new configuration.
    await eventually(async () => {
      await customerWrites(0);
      return sim!.received().length > 0 ? true : undefined;
    }, 20_000);
    await go('Resumen');
    await expect
      .poll(
        async () => Number((await page.locator('[data-metric="events.received"]').textContent())?.replace(/\D/g, '')),
        {
          timeout: 20_000,
          interval: 1_000,
        },
      )
      .toBeGreaterThanOrEqual(1);
  });

  it('pauses and resumes the instance after a confirmation that names the tenant', async () => {
    await page.goto(tenantUrl);
    const row = page.getByRole('row').filter({ hasText: 'Sucursal Centro' });
    await row.getByRole('button', { name: 'Pausar' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: `¿Pausar Sucursal Centro de ${TENANT}?` }).waitFor();
    await dialog.getByLabel('Motivo (queda en la auditoría)').fill('prueba del navegador');
    await dialog.getByRole('button', { name: 'Pausar instancia' }).click();
    await page
      .getByTestId('action-result')
      .filter({ hasText: `Sucursal Centro de ${TENANT} está en pausa` })
      .waitFor();
    await row.getByText('En pausa').first().waitFor();

    await row.getByRole('button', { name: 'Reanudar' }).click();
    await dialog.getByLabel('Motivo (queda en la auditoría)').fill('fin de la prueba');
    await dialog.getByRole('button', { name: 'Reanudar instancia' }).click();
    await page
      .getByTestId('action-result')
      .filter({ hasText: `Sucursal Centro de ${TENANT} se reanudó` })
      .waitFor();
    await row.getByText('Activa').waitFor();
  });

  it('inspects a dead letter and replays it to the instance', async () => {
    sim!.setMode({ mode: 'fail-500' });
    const before = sim!.received().length;
    await customerWrites(1);
    await go('Entregas');
    const row = page.getByRole('row').filter({ hasText: 'whatsapp.message.received' });
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Actualizar' }).click();
          return row.count();
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe(1);
    await row.getByRole('button', { name: 'Inspeccionar' }).click();
    await expect.poll(() => page.getByTestId('payload').textContent()).toContain('"type": "whatsapp.message.received"');
    await shot('deliveries');
    // The keyboard lands on the opened panel, and goes back to its button when the panel closes.
    const focused = () => page.evaluate(() => document.activeElement?.textContent?.trim());
    expect(await focused()).toBe('Detalle de la entrega');
    await page.getByRole('region', { name: 'Detalle de la entrega' }).getByRole('button', { name: 'Cerrar' }).click();
    expect(await focused()).toBe('Inspeccionar');
    await row.getByRole('button', { name: 'Inspeccionar' }).click();

    sim!.setMode({ mode: 'ok' });
    await row.getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Reenviar 1 seleccionada' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Reenviar' }).click();
    await page.getByTestId('replay-result').filter({ hasText: '1 entrega vuelve a la cola.' }).waitFor();
    await sim!.waitFor((received) => received.slice(before).some((d) => d.status === 204), 15_000);
    await page.getByText('No hay entregas fallidas. Todo se entregó.').waitFor();
  });

  it('shows an event no instance took, with what Meta sent, and filters it away', async () => {
    const stranger = '100000000078';
    const report = await sendWebhooks({
      url: `${mic.engineUrl}/meta/webhook`,
      appSecret: APP_SECRET,
      generator: bodyGenerator('whatsapp-text', { channelId: stranger, customers: 1 }),
      count: 1,
    });
    expect(report.summary.ok).toBe(1);
    await go('Entregas');
    await page.getByRole('tab', { name: 'Eventos sin ruta' }).click();
    const row = page.getByRole('row').filter({ hasText: `whatsapp:${stranger}` });
    await row.waitFor();
    await row.getByRole('button', { name: 'Inspeccionar' }).click();
    await page.getByRole('heading', { name: 'Detalle del evento' }).waitFor();
    await expect.poll(() => page.getByTestId('event-raw').textContent()).toContain(stranger);
    await shot('deliveries-unrouted');
    await page.getByRole('button', { name: 'Cerrar', exact: true }).click();
    await page.getByLabel('Plataforma').selectOption('messenger');
    await page.getByText('No hay eventos sin ruta: cada canal que escribe tiene su instancia.').waitFor();
  });

  it("shows an outbound message's timeline up to Meta's refusal, code and text", async () => {
    env.graph.failNext(1, 'outside-window', { objectId: PHONE, edge: 'messages' });
    const sent = await fetch(`${mic.engineUrl}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        channel: { kind: 'whatsapp', id: PHONE },
        to: '+5215550100',
        message: { type: 'text', text: { body: 'Su pedido está listo' } },
      }),
    });
    expect(sent.status).toBe(202);
    await go('Entregas');
    await page.getByRole('tab', { name: 'Mensajes salientes' }).click();
    await page.getByLabel('Estado').selectOption('failed');
    const row = page.getByRole('row').filter({ hasText: '+5215550100' });
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Actualizar' }).click();
          return row.count();
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe(1);
    await row.getByText('falló').waitFor();
    expect(await row.textContent()).toContain(TENANT);
    await row.getByRole('button', { name: 'Ver historial' }).click();
    const timeline = page.getByTestId('message-timeline');
    await timeline.getByText(/Meta 131047/).waitFor();
    expect(await timeline.textContent()).toContain('Re-engagement message');
    expect(await timeline.locator('li .badge').allTextContents()).toEqual(['en cola', 'enviando', 'falló']);
    await shot('deliveries-outbound');
  });

  it("follows a hub broadcast's progress to its recipients, and cancels a scheduled one after naming it", async () => {
    const hubPhone = HUB_PHONE;
    const token = `EAAG-browser-${hubPhone}`;
    env.graph.addObject({ id: `waba${hubPhone}`, kind: 'whatsapp-business-account', token });
    env.graph.addObject({ id: hubPhone, kind: 'whatsapp-phone-number', token, businessAccountId: `waba${hubPhone}` });
    const channel = await controlCall(mic, owner, 'POST', '/v1/instances/ins_hub/channels', {
      platform: 'whatsapp',
      channelId: hubPhone,
      wabaId: `waba${hubPhone}`,
      accessToken: token,
    });
    expect(channel.status, JSON.stringify(channel.body)).toBe(201);
    expect(
      (await controlCall(mic, owner, 'PATCH', '/v1/tenants/ten_hub', { modules: { marketing: true } })).status,
    ).toBe(200);
    await engineRuns(mic, await controlConfigVersion(mic));
    const broadcast = (name: string, scheduledAt?: string) =>
      controlCall<{ id: string }>(mic, owner, 'POST', '/v1/hub/broadcasts', {
        name,
        channel: { kind: 'whatsapp', id: hubPhone },
        message: { type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } },
        recipients: [{ to: '+5215550201' }, { to: '+5215550202' }],
        ...(scheduledAt ? { scheduledAt } : {}),
      });
    expect((await broadcast('Novedades de noviembre')).status).toBe(202);
    expect((await broadcast('Aviso de diciembre', new Date(Date.now() + 86_400_000).toISOString())).status).toBe(202);

    await go('Entregas');
    await page.getByRole('tab', { name: 'Difusiones del hub' }).click();
    await page.getByRole('link', { name: 'Novedades de noviembre' }).click();
    await page.getByRole('heading', { name: 'Novedades de noviembre', level: 1 }).waitFor();
    // The page follows the broadcast as the engine sends it.
    await expect
      .poll(() => page.getByTestId('broadcast-progress').textContent(), { timeout: 30_000 })
      .toContain('2 de 2');
    await page.getByTestId('broadcast-state').getByText('Terminada').waitFor();
    expect(await page.locator('[data-metric="sent"]').textContent()).toBe('2');
    const recipients = page.getByRole('table', { name: 'Destinatarios' });
    await recipients.getByRole('row').filter({ hasText: '5215550201' }).getByText('Enviado').waitFor();
    await page.getByLabel('Estado').selectOption('failed');
    await page.getByText('No hay destinatarios con este estado.').waitFor();
    await shot('hub-broadcast');

    await page.getByRole('link', { name: 'Difusiones del hub' }).click();
    // Each tenant's figures: the hub (tenant zero) made two broadcasts, one still scheduled.
    const figures = page.getByRole('table', { name: 'Difusiones de los clientes (últimos 30 días)' });
    const hubRow = figures.getByRole('row').filter({ hasText: 'Hub' });
    await hubRow.waitFor();
    expect((await hubRow.getByRole('cell').allTextContents()).slice(0, 4)).toEqual(['Hub', '2', '1', '4']);
    await page.getByRole('link', { name: 'Aviso de diciembre' }).click();
    await page.getByTestId('broadcast-state').getByText('Programada').waitFor();
    await page.getByRole('button', { name: 'Cancelar difusión' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: '¿Cancelar «Aviso de diciembre»?' }).waitFor();
    await dialog.getByRole('button', { name: 'Cancelar difusión' }).click();
    await page.getByTestId('broadcast-result').filter({ hasText: '«Aviso de diciembre» se canceló' }).waitFor();
    await page.getByTestId('broadcast-state').getByText('Cancelada').waitFor();
    expect(await page.getByRole('button', { name: 'Cancelar difusión' }).count()).toBe(0);
  });

  it("lists the hub's posts and shows a published one's timeline", async () => {
    const hubPage = '100000000080';
    const token = `EAAG-browser-${hubPage}`;
    env.graph.addObject({ id: hubPage, kind: 'page', token });
    const channel = await controlCall(mic, owner, 'POST', '/v1/instances/ins_hub/channels', {
      platform: 'messenger',
      channelId: hubPage,
      accessToken: token,
    });
    expect(channel.status, JSON.stringify(channel.body)).toBe(201);
    expect(
      (await controlCall(mic, owner, 'PATCH', '/v1/tenants/ten_hub', { modules: { publishing: true } })).status,
    ).toBe(200);
    await engineRuns(mic, await controlConfigVersion(mic));
    const post = await controlCall(mic, owner, 'POST', '/v1/hub/posts', {
      channel: { kind: 'facebook', id: hubPage },
      post: { type: 'text', message: 'Abrimos el sábado' },
    });
    expect(post.status, JSON.stringify(post.body)).toBe(202);

    await go('Entregas');
    await page.getByRole('tab', { name: 'Publicaciones del hub' }).click();
    const row = page.getByRole('row').filter({ hasText: 'Abrimos el sábado' });
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Actualizar' }).click();
          return row.getByText('Publicada').count();
        },
        { timeout: 30_000, interval: 1_000 },
      )
      .toBe(1);
    await row.getByRole('button', { name: 'Ver historial' }).click();
    const timeline = page.getByTestId('post-timeline');
    await timeline.getByText('Publicada').waitFor();
    expect(await timeline.locator('li .badge').first().textContent()).toBe('En cola');
    await shot('hub-posts');
  });

  it('issues an invoice and downloads its PDF', async () => {
    await go('Facturación');
    await page.getByText('No hay facturas con estos filtros.').waitFor();
    await page.getByRole('button', { name: 'Nueva factura' }).click();
    const form = page.getByRole('form', { name: 'Nueva factura' });
    await form.getByLabel('Cliente').selectOption({ label: TENANT });
    await page.getByLabel('Correo de facturación').fill('facturas@panaderia.example');
    await page.getByLabel('Descripción').fill('Implantación');
    // es-MX writes numbers as 1,500.50; the form reads them the way the operator's language does.
    await page.getByLabel('Precio unitario (MXN)').fill('1500.50');
    await page.getByRole('button', { name: 'Crear borrador' }).click();
    await page.getByTestId('billing-result').filter({ hasText: 'Borrador de factura' }).waitFor();
    await page.getByRole('button', { name: 'Emitir', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(TENANT).waitFor();
    await dialog.getByRole('button', { name: 'Emitir factura' }).click();
    const result = page.getByTestId('billing-result').filter({ hasText: 'emitida' });
    await result.waitFor();
    const issued = (await result.textContent()) ?? '';
    const number = /Factura (\S+) de/.exec(issued)?.[1] ?? '';
    expect(number).not.toBe('');
    const row = page.getByRole('row').filter({ hasText: number });
    await row.getByText('Emitida').waitFor();
    await shot('billing');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('link', { name: 'Descargar PDF' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`${number}.pdf`);
    const file = await download.path();
    expect(readFileSync(file).subarray(0, 5).toString()).toBe('%PDF-');

    await page.getByRole('tab', { name: 'Informes' }).click();
    const month = new Date().toISOString().slice(0, 7);
    const revenue = page.getByRole('row').filter({ hasText: month });
    await revenue.waitFor();
    expect(await revenue.locator('td').nth(1).textContent()).toBe('$1,500.50');
    const [csv] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Exportar facturas (CSV)' }).click(),
    ]);
    expect(readFileSync(await csv.path(), 'utf8')).toContain(number);
    await shot('billing-reports');
    await page.getByRole('tab', { name: 'Facturas' }).click();
  });

  it('switches to English and back, dates and money included', async () => {
    await page.getByTestId('language').selectOption('en');
    await page.getByRole('link', { name: 'Tenants' }).waitFor();
    await page.getByRole('heading', { name: 'Billing', level: 1 }).waitFor();
    await page.getByRole('columnheader', { name: 'Balance' }).waitFor();
    const invoice = page.getByRole('row').filter({ hasText: 'Issued' });
    // 1,500.50 plus 16 % tax; en-US names the peso MX$, es-MX just $.
    expect(await invoice.locator('td.num').first().textContent()).toBe('MX$1,740.58');
    const issuedOn = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium' }).format(new Date());
    await invoice.getByText(issuedOn).first().waitFor();
    // The choice survives a reload.
    await page.reload();
    await page.getByRole('link', { name: 'Tenants' }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await page.getByTestId('language').selectOption('es');
    await page.getByRole('link', { name: 'Clientes' }).waitFor();
    const emitida = page.getByRole('row').filter({ hasText: 'Emitida' });
    expect(await emitida.locator('td.num').first().textContent()).toBe('$1,740.58');
    const emitidaOn = new Intl.DateTimeFormat('es-MX', { dateStyle: 'medium' }).format(new Date());
    await emitida.getByText(emitidaOn).first().waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('es');
  });

  it('moves a deal between stages by dragging it on the CRM board', async () => {
    const company = await controlCall<{ id: string }>(mic, owner, 'POST', '/v1/crm/companies', { name: 'Café Kanban' });
    const stages = await controlCall<{ id: string; name: string; position: number }[]>(
      mic,
      owner,
      'GET',
      '/v1/crm/pipeline/stages',
    );
    const [first, second] = [...stages.body].sort((a, b) => a.position - b.position);
    const deal = await controlCall<{ id: string }>(mic, owner, 'POST', '/v1/crm/deals', {
      title: 'Plan anual Kanban',
      companyId: company.body.id,
      stageId: first!.id,
      value: { amountMinor: 1_200_000, currency: 'MXN' },
    });
    expect(deal.status).toBe(201);

    await go('CRM');
    const card = page.locator('li.deal', { hasText: 'Plan anual Kanban' });
    await page.locator(`section[data-stage="${first!.name}"]`).locator(card).waitFor();
    await card.dragTo(page.locator(`section[data-stage="${second!.name}"]`));
    await page.locator(`section[data-stage="${second!.name}"]`).locator(card).waitFor();
    await expect
      .poll(
        async () =>
          (await controlCall<{ stageId: string }>(mic, owner, 'GET', `/v1/crm/deals/${deal.body.id}`)).body.stageId,
      )
      .toBe(second!.id);
    await shot('crm');
    await page.getByRole('tab', { name: 'Conversaciones' }).click();
    await page.getByText('Aún no hay conversaciones en los canales del hub.').waitFor();
  });

  it("answers a customer who wrote to the hub's number from the CRM inbox, and the reply reaches Meta", async () => {
    const contact = await controlCall(mic, owner, 'POST', '/v1/crm/contacts', {
      name: 'Rosa Cliente',
      phones: ['+5215550777'],
    });
    expect(contact.status, JSON.stringify(contact.body)).toBe(201);
    const rosaWrites = async (text: string) => {
      const wrote = await sendWebhooks({
        url: `${mic.engineUrl}/meta/webhook`,
        appSecret: APP_SECRET,
        bodies: [whatsappTextMessage({ phoneNumberId: HUB_PHONE, from: '5215550777', name: 'Rosa', text })],
      });
      expect(wrote.summary.ok).toBe(1);
    };

    // The inbox is open before she writes: her conversation, then her next message, show up by themselves.
    await go('CRM');
    await page.getByRole('tab', { name: 'Conversaciones' }).click();
    await page.getByText('Aún no hay conversaciones en los canales del hub.').waitFor();
    await rosaWrites('¿Tienen plan anual?');
    const conversation = page.getByRole('button', { name: /Rosa Cliente/ });
    await conversation.waitFor({ timeout: 20_000 });
    await conversation.click();
    const thread = page.getByRole('region', { name: /Rosa Cliente/ });
    await thread.getByText('¿Tienen plan anual?').waitFor();
    await rosaWrites('Somos 3 sucursales.');
    await thread.getByText('Somos 3 sucursales.').waitFor({ timeout: 20_000 });
    await thread.getByLabel('Respuesta').fill('Sí: 10 % menos al año. ¿Te paso la propuesta?');
    await thread.getByRole('button', { name: 'Enviar' }).click();
    await thread.getByText('Sí: 10 % menos al año. ¿Te paso la propuesta?').waitFor();
    await shot('crm-conversation');
    const sent = await eventually(async () =>
      env.graph.sends({ objectId: HUB_PHONE }).find((send) => send.recipient === '5215550777'),
    );
    expect(sent.body).toMatchObject({ type: 'text', text: { body: 'Sí: 10 % menos al año. ¿Te paso la propuesta?' } });
  });

  it("shows the tenant's timeline, and adds a CRM task that is overdue, then completes it", async () => {
    await page.goto(tenantUrl);
    const timeline = page.getByRole('table', { name: 'Historial' });
    await timeline.getByRole('row').filter({ hasText: 'instance.pause' }).first().waitFor();
    await timeline.getByRole('row').filter({ hasText: 'invoice.issued' }).first().waitFor();
    expect(await timeline.getByRole('row').filter({ hasText: 'instance.pause' }).first().textContent()).toContain(
      'Sucursal Centro',
    );
    await shot('tenant-timeline');

    await go('CRM');
    await page.getByRole('tab', { name: 'Actividades y tareas' }).click();
    await page.getByText('No hay actividades con estos filtros.').waitFor();
    const form = page.getByRole('form', { name: 'Nueva actividad' });
    await form.getByLabel('Tipo').selectOption('task');
    await form.getByLabel('Empresa').selectOption({ label: 'Café Kanban' });
    const yesterday = new Date(Date.now() - 86_400_000 - new Date().getTimezoneOffset() * 60_000);
    await form.getByLabel('Vence / fecha').fill(yesterday.toISOString().slice(0, 16));
    await form.getByLabel('Asunto').fill('Llamar a Café Kanban');
    await form.getByLabel('Detalle').fill('Confirmar la renovación anual');
    await form.getByRole('button', { name: 'Añadir' }).click();
    await page.getByTestId('activity-result').filter({ hasText: 'Tarea añadida.' }).waitFor();
    const task = page.getByRole('row').filter({ hasText: 'Llamar a Café Kanban' });
    await task.getByText('Vencida').waitFor();
    await task.getByText('Abierta').waitFor();
    await task.getByRole('button', { name: 'Marcar hecha' }).click();
    await task.getByText(/^Hecha /).waitFor();
    await page.getByLabel('Solo tareas abiertas').click();
    await page.getByText('No hay actividades con estos filtros.').waitFor();
    await shot('crm-activities');
  });

  it('screenshots the settings page and verifies the audit chain', async () => {
    await go('Ajustes');
    await page.getByRole('button', { name: 'Verificar la cadena' }).click();
    await page.getByText(/La cadena de auditoría está íntegra/).waitFor();
    await shot('settings');
  });

  it('creates an operator with a role, shown their first password once, who can then sign in', async () => {
    await go('Ajustes');
    const form = page.getByRole('form', { name: 'Nuevo operador' });
    await form.getByLabel('Nombre').fill('Lucía Soporte');
    await form.getByLabel('Correo electrónico').fill('lucia.soporte@example.test');
    await form.getByLabel('Rol').selectOption('support');
    await form.getByRole('button', { name: 'Crear operador' }).click();
    await page
      .getByTestId('operator-result')
      .filter({ hasText: 'Lucía Soporte ya puede entrar como Soporte.' })
      .waitFor();
    const password = (await page.getByRole('status').locator('code.secret').textContent()) ?? '';
    expect(password.length).toBeGreaterThanOrEqual(12);
    const row = page.getByRole('table', { name: 'Operadores' }).getByRole('row').filter({ hasText: 'Lucía Soporte' });
    await row.getByText('Soporte', { exact: true }).waitFor();
    const login = await fetch(`${mic.controlUrl}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'lucia.soporte@example.test', password }),
    });
    expect(login.status).toBe(200);
  });

  it('invites an operator by e-mail, who chooses their password through the link', async () => {
    const form = page.getByRole('form', { name: 'Nuevo operador' });
    await form.getByLabel('Nombre').fill('Mateo Cobranza');
    await form.getByLabel('Correo electrónico').fill('mateo.cobranza@example.test');
    await form.getByLabel('Rol').selectOption('billing');
    await form.getByLabel('Idioma').selectOption('en');
    await form.getByLabel(/Invitar por correo/).check();
    await form.getByRole('button', { name: 'Crear operador' }).click();
    await page
      .getByTestId('operator-result')
      .filter({ hasText: 'Mateo Cobranza entrará como Facturación en cuanto elija su contraseña.' })
      .waitFor();
    await page
      .getByTestId('operator-invitation')
      .filter({ hasText: 'Invitación enviada a mateo.cobranza@example.test' })
      .waitFor();
    expect(await page.getByRole('status').locator('code.secret').count()).toBe(0);

    const mail = await eventually(async () => mailbox!.mails.find((m) => m.to.includes('mateo.cobranza@example.test')));
    const text = mailText(mail);
    expect(text).toContain('has created a MIC operator account for you');
    const token = /#\/reset\?token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
    expect(token).toBeDefined();
    const invited = await browser.context.newPage();
    try {
      await invited.goto(`${mic.controlUrl}/#/reset?token=${token}`);
      await invited.getByLabel('Contraseña nueva').fill('mateo elige la suya');
      await invited.getByLabel('Repite la contraseña').fill('mateo elige la suya');
      await invited.getByRole('button', { name: 'Guardar contraseña' }).click();
      await invited.getByText('Listo: tu contraseña cambió.').waitFor();
    } finally {
      await invited.close();
    }
    const login = await fetch(`${mic.controlUrl}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'mateo.cobranza@example.test', password: 'mateo elige la suya' }),
    });
    expect(login.status).toBe(200);
  });

  it('verifies a backup again, and asks to confirm a restore naming the backup', async () => {
    const taken = await controlCall<{ backup: { id: string } }>(mic, owner, 'POST', '/v1/backups', {
      label: 'antes de la prueba',
    });
    expect(taken.status, JSON.stringify(taken.body)).toBe(201);
    // Already on the settings page: loaded again to list the new backup.
    await page.reload();
    const row = page.getByRole('table', { name: 'Respaldos de control' }).getByRole('row').filter({
      hasText: 'antes de la prueba',
    });
    await row.getByRole('button', { name: 'Verificar' }).click();
    await page
      .getByTestId('backup-result')
      .filter({ hasText: `${taken.body.backup.id} se puede restaurar` })
      .waitFor({ timeout: 30_000 });

    await row.getByRole('button', { name: 'Restaurar' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('heading', { name: '¿Restaurar control desde este respaldo?' }).waitFor();
    expect(await dialog.textContent()).toContain(`(antes de la prueba, ${taken.body.backup.id})`);
    // Not without typing the plane's name; the operator changes their mind here.
    await dialog.getByRole('button', { name: 'Restaurar' }).click();
    expect(
      await dialog.getByLabel('Escribe «control» para confirmar').evaluate((i: HTMLInputElement) => i.validity.valid),
    ).toBe(false);
    await dialog.getByRole('button', { name: 'Cancelar' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await controlCall<{ lastRestore: unknown }>(mic, owner, 'GET', '/v1/backups')).body.lastRestore).toBeNull();
    await shot('settings-backups');
  });

  it('fits a tablet screen without sideways scrolling', async () => {
    await page.setViewportSize({ width: 768, height: 1024 });
    try {
      for (const [link, name] of [
        ['Resumen', 'overview-tablet'],
        ['Clientes', 'tenants-tablet'],
        ['Facturación', 'billing-tablet'],
      ] as const) {
        await go(link);
        await page.getByRole('heading', { level: 1 }).waitFor();
        await page
          .locator('.state-loading')
          .first()
          .waitFor({ state: 'detached' })
          .catch(() => {});
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), link).toBe(true);
        await shot(name);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('says plainly that the engine is down while CRM and billing keep working', async () => {
    const { pid } = await systemStatus(mic, 'engine');
    // Frozen rather than killed, so the supervisor's restart cannot end the outage before it is seen.
    process.kill(pid, 'SIGSTOP');
    try {
      await go('Resumen');
      await page.getByText('El motor no responde.').waitFor({ timeout: 20_000 });
      await expect.poll(() => page.getByTestId('health-engine').textContent()).toContain('Falla');
      expect(await page.getByTestId('health-api').textContent()).toContain('Correcto');
      await shot('overview-engine-down');
      await go('CRM');
      // The overview has empty states of its own: the CRM's only count once the page is the CRM.
      await page.getByRole('heading', { level: 1, name: 'CRM' }).waitFor();
      await page.locator('.board, .state-empty').first().waitFor();
      expect(await page.getByRole('alert').count()).toBe(0);
      await go('Facturación');
      await page.getByRole('row').filter({ hasText: 'Emitida' }).first().waitFor();
      expect(await page.getByRole('alert').count()).toBe(0);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  it("shows the tenant's subscription and dunning state, and records a payment that settles its invoice", async () => {
    const tenantId = new URL(tenantUrl).pathname.split('/').at(-1)!;
    const plan = await controlCall<{ id: string }>(mic, owner, 'POST', '/v1/billing/plans', {
      code: 'browser-basic',
      name: 'Básico navegador',
      currency: 'MXN',
      priceMinor: 49_900,
      interval: 'month',
      includedMessages: 1000,
      overagePer1000Minor: 5_000,
    });
    expect(plan.status, JSON.stringify(plan.body)).toBe(201);
    const subscription = await controlCall(mic, owner, 'POST', `/v1/billing/tenants/${tenantId}/subscription`, {
      planId: plan.body.id,
      trialDays: 14,
    });
    expect(subscription.status, JSON.stringify(subscription.body)).toBe(201);

    await go('Facturación');
    await page.getByRole('tab', { name: 'Suscripciones' }).click();
    const subscribed = page.getByRole('row').filter({ hasText: TENANT });
    await subscribed.getByText('Básico navegador').waitFor();
    await subscribed.getByText('En prueba').waitFor();
    await expect.poll(() => subscribed.getByTestId('dunning').textContent()).toBe('Al corriente');
    await page.getByLabel('Estado').selectOption('past_due');
    await page.getByText('No hay suscripciones con estos filtros.').waitFor();

    await page.getByRole('tab', { name: 'Facturas' }).click();
    const invoice = page.getByRole('row').filter({ hasText: 'Emitida' });
    const number = ((await invoice.locator('td').first().textContent()) ?? '').trim();
    await invoice.getByRole('button', { name: 'Registrar pago' }).click();
    const form = page.getByRole('form', { name: `Pago de la factura ${number} de ${TENANT}` });
    // The balance is offered; the operator only says how it was paid.
    expect(await form.getByLabel('Importe (MXN)').inputValue()).toBe('1740.58');
    await form.getByLabel('Método').selectOption('transfer');
    await form.getByLabel('Referencia').fill('SPEI-0042');
    await form.getByRole('button', { name: 'Registrar pago' }).click();
    await page
      .getByTestId('billing-result')
      .filter({ hasText: `Pago de $1,740.58 registrado para la factura ${number}.` })
      .waitFor();
    const paid = page.getByRole('row').filter({ hasText: number });
    await paid.getByText('Pagada').waitFor();
    expect(await paid.locator('td.num').nth(1).textContent()).toBe('$0.00');
    expect(await paid.getByRole('button', { name: 'Registrar pago' }).count()).toBe(0);
    await shot('billing-payment');
  });

  it('sends an operator whose session ended back to sign-in with a message', async () => {
    await browser.context.clearCookies();
    await go('Clientes');
    await page.getByText('Tu sesión terminó. Inicia sesión de nuevo para continuar.').waitFor();
    await page.getByRole('heading', { name: 'Iniciar sesión' }).waitFor();
  });

  it('enrols a second factor and then asks for it at sign-in', async () => {
    await page.getByLabel('Correo electrónico').fill(owner.email);
    await page.getByLabel('Contraseña').fill(owner.password);
    await page.getByRole('button', { name: 'Entrar' }).click();
    await go('Ajustes');
    await page.getByRole('button', { name: 'Activar segundo factor' }).click();
    const secret = (await page.getByText('O escribe esta clave:').locator('code').textContent()) ?? '';
    await page.getByLabel('Código').fill(totpCode(secret, new Date()));
    await page.getByRole('button', { name: 'Confirmar' }).click();
    await page.getByText(/Segundo factor activo/).waitFor();
    const recoveryCode = (await page.locator('ul.codes code').first().textContent()) ?? '';
    expect(recoveryCode).not.toBe('');

    await page.getByRole('button', { name: 'Cerrar sesión' }).click();
    // The settings page has an e-mail field too (a new operator's): fill the sign-in form's.
    await page.getByRole('heading', { name: 'Iniciar sesión' }).waitFor();
    await page.getByLabel('Correo electrónico').fill(owner.email);
    await page.getByLabel('Contraseña').fill(owner.password);
    await page.getByRole('button', { name: 'Entrar' }).click();
    await page.getByRole('heading', { name: 'Segundo factor' }).waitFor();
    // The TOTP code just used is spent; a recovery code works once instead.
    await page.getByRole('button', { name: 'Usar un código de recuperación' }).click();
    await page.getByLabel('Código de recuperación').fill(recoveryCode);
    await page.getByRole('button', { name: 'Verificar' }).click();
    await page.getByRole('heading', { name: 'Resumen', level: 1 }).waitFor();
  });

  it('restores control from a backup after the operator names it, and shows the outcome once control is back', async () => {
    await go('Ajustes');
    const row = page.getByRole('table', { name: 'Respaldos de control' }).getByRole('row').filter({
      hasText: 'antes de la prueba',
    });
    await row.getByRole('button', { name: 'Restaurar' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Escribe «control» para confirmar').fill('control');
    await dialog.getByRole('button', { name: 'Restaurar' }).click();
    await page.getByTestId('restore-progress').waitFor();
    // Control stops, restores and starts again; the session, newer than the backup, is not in it.
    await page.getByRole('heading', { name: 'Iniciar sesión' }).waitFor({ timeout: 90_000 });
    await page.getByLabel('Correo electrónico').fill(owner.email);
    await page.getByLabel('Contraseña').fill(owner.password);
    await page.getByRole('button', { name: 'Entrar' }).click();
    await page.getByRole('heading', { level: 1 }).waitFor();
    await go('Ajustes');
    await page.getByTestId('restore-progress').filter({ hasText: 'Control se restauró desde control-' }).waitFor();
    // What happened after the backup is gone: the payment recorded later, so the invoice is owed again.
    await go('Facturación');
    await page.getByRole('row').filter({ hasText: 'Emitida' }).first().waitFor();
    await shot('settings-restored');
  });
});
