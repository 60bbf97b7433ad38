/*
 * The console's "Integrations" page in headless Chromium, against a real
 * atriumd and a receiver on 127.0.0.1 started by console_integrations.sh
 * (which exports the ports, the data folder and the certificates). Prints
 * TAP. Every secret the page shows is written to $T/secrets.txt, so that
 * the script can check the server never logged it.
 */
'use strict';

const { chromium } = require('playwright-core');
const cp = require('child_process');
const fs = require('fs');
const path = require('path');

const env = process.env;
for (const k of ['ADMIN_PORT', 'SERVER_PID', 'DATA', 'ART', 'T', 'CA', 'C', 'RPORT']) {
  if (!env[k]) {
    console.log(`not ok - console_integrations.test.js runs from console_integrations.sh (${k} is not set)`);
    process.exit(1);
  }
}
const ORIGIN = `https://localhost:${env.ADMIN_PORT}`;
const ADMIN_PASSWORD = env.ATRIUM_ADMIN_PASSWORD || 'admin-secret-1';
const RECEIVER = `http://127.0.0.1:${env.RPORT}/hook`;
const GOT = path.join(env.T, 'got.jsonl');

let failures = 0;

function ok(name) {
  console.log(`ok - ${name}`);
}

function notOk(name, why) {
  failures++;
  console.log(`not ok - ${name}`);
  for (const line of String(why || '').split('\n').slice(0, 12)) console.log(`#   ${line}`);
}

function check(name, cond, why) {
  if (cond) ok(name);
  else notOk(name, why);
  return !!cond;
}

function eq(name, actual, expected) {
  return check(name, actual === expected, `expected: ${JSON.stringify(expected)}\nactual:   ${JSON.stringify(actual)}`);
}

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    notOk(name, e && e.stack ? e.stack : e);
  }
}

function sh(cmd) {
  return cp.execFileSync('bash', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function keepSecret(s) {
  fs.appendFileSync(path.join(env.T, 'secrets.txt'), `SECRET ${s}\n`);
}

function received() {
  return fs.readFileSync(GOT, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
}

async function shot(page, name) {
  /* From the top: the sticky bar would sit in the middle of a full-page shot. */
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(env.ART, `integrations-${name}.png`), fullPage: true });
}

async function text(page, sel) {
  return (await page.locator(sel).first().textContent() || '').trim();
}

/* The integrations as the API lists them, fetched from inside the page. */
function apiList(page) {
  return page.evaluate(async () => {
    const res = await fetch('/admin/api/integrations');
    return (await res.json()).integrations;
  });
}

async function apiGet(page, name) {
  return (await apiList(page)).find((i) => i.name === name);
}

/* The visible error of the add form: next to a field (its data-for) or the form's own. */
function addErrors(page) {
  return page.evaluate(() => Array.from(document.querySelectorAll(
    '#int-add-form .field-error, #int-add-form .form-error')).filter((p) => !p.hidden)
    .map((p) => ({ field: p.getAttribute('data-for') || 'form', text: p.textContent })));
}

async function goIntegrations(page) {
  await page.goto('about:blank');
  await page.goto(`${ORIGIN}/#/integrations`);
  await page.waitForSelector('#view-integrations:not([hidden])');
  await page.waitForLoadState('networkidle');
}

/* Fills the add form's name and URL and submits; waits for the secret or an error. */
async function submitAdd(page, name, url) {
  await page.fill('#int-name', name);
  await page.fill('#int-url', url);
  await page.click('#int-add-submit');
  await page.waitForSelector('#int-secret:not([hidden]), #int-add-form .field-error:not([hidden]), #int-add-form .form-error:not([hidden])');
}

async function takeSecret(page) {
  const s = await page.inputValue('#int-secret-value');
  keepSecret(s);
  return s;
}

async function main() {
  const profile = fs.mkdtempSync(path.join(env.T, 'chromium-int-'));
  const db = path.join(profile, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true });
  sh(`certutil -d "sql:${db}" -N --empty-password && certutil -d "sql:${db}" -A -t "C,," -n atrium -i "${env.CA}"`);
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    env: { ...process.env, HOME: profile },
    viewport: { width: 1280, height: 900 }
  });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ORIGIN });
  const page = await ctx.newPage();
  const pageErrors = [];
  const cspViolations = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
  });

  await step('login', async () => {
    await page.goto(`${ORIGIN}/#/integrations`);
    await page.waitForSelector('#view-login:not([hidden])');
    await page.fill('#login-user', 'admin');
    await page.fill('#login-password', ADMIN_PASSWORD);
    await page.click('#login-submit');
    await page.waitForSelector('#view-integrations:not([hidden])');
    ok('after login the page asked for (#/integrations) is shown');
    eq('the navigation names the page', await text(page, '#nav a[data-route=integrations]'), 'Integrations');
    eq('it is the page marked current', await page.getAttribute('#nav a[data-route=integrations]', 'aria-current'), 'page');
    await page.waitForSelector('#int-empty:not([hidden])');
    ok('with no integration, the page says so');
    eq('the kinds are offered as checkboxes, disabled while "Every kind" is checked',
      await page.locator('#int-kinds input.i-kind:disabled').count(), 13);
    await shot(page, '01-empty');
  });

  let secret1 = '';
  await step('add with chosen kinds', async () => {
    await page.uncheck('#int-events-all');
    eq('unchecking "Every kind" enables the kinds', await page.locator('#int-kinds input.i-kind:disabled').count(), 0);
    await page.check('#int-kinds input[value="revision.committed"]');
    await page.check('#int-kinds input[value="project.created"]');
    await shot(page, '02-add-form');
    const [req] = await Promise.all([
      page.waitForRequest((q) => q.url().endsWith('/admin/api/integrations') && q.method() === 'POST'),
      submitAdd(page, 'ci', RECEIVER)
    ]);
    const sent = JSON.parse(req.postData() || '{}');
    eq('the form sends the kinds checked', JSON.stringify(sent.events), '["revision.committed","project.created"]');
    check('with the CSRF token', !!(await req.allHeaders())['x-csrf-token']);
    check('the secret is shown after Add', await page.isVisible('#int-secret'), JSON.stringify(await addErrors(page)));
    secret1 = await takeSecret(page);
    check('it is a Standard Webhooks secret', /^whsec_[A-Za-z0-9+/]{20,}={0,2}$/.test(secret1), secret1);
    check('the page says it will not be shown again', /not be shown again/.test(await text(page, '#int-secret')));
    await page.click('#int-secret-copy');
    await page.waitForFunction(() => document.querySelector('#int-secret-copy').textContent !== 'Copy');
    eq('Copy puts it on the clipboard', await page.evaluate(() => navigator.clipboard.readText()), secret1);
    await shot(page, '03-secret-once');
    await page.waitForSelector('#int-table tbody tr[data-name="ci"]');
    eq('the list shows it active', await text(page, 'tr[data-name="ci"] .i-state .badge'), 'active');
    eq('with nothing pending', await text(page, 'tr[data-name="ci"] .i-pending'), '0');
    eq('and no delivery yet', await text(page, 'tr[data-name="ci"] .i-last'), '—');
    eq('the badge counts it', await text(page, '#int-badge'), '1 integration');
    const it = await apiGet(page, 'ci');
    eq('the server holds the kinds', JSON.stringify(it && it.events), '["revision.committed","project.created"]');
    check('and no answer of the list holds the secret', !JSON.stringify(await apiList(page)).includes('whsec_'));
    eq('the form is emptied', await page.inputValue('#int-name'), '');
    await page.click('#int-secret-done');
    check('Done hides the secret', !(await page.isVisible('#int-secret')));
    eq('and empties it from the page', await page.inputValue('#int-secret-value'), '');
    await goIntegrations(page);
    check('back on the page, no secret is shown', !(await page.isVisible('#int-secret')));
  });

  await step('errors next to their field', async () => {
    await submitAdd(page, 'far', 'http://192.0.2.10/hook');
    let errs = await addErrors(page);
    check('http:// to another machine is refused next to the URL field',
      errs.length === 1 && errs[0].field === 'url' && /400/.test(errs[0].text), JSON.stringify(errs));
    eq('the URL field is marked invalid', await page.getAttribute('#int-url', 'aria-invalid'), 'true');
    await shot(page, '04-url-error');
    await submitAdd(page, 'ci', RECEIVER);
    errs = await addErrors(page);
    check('a taken name is refused with 409, next to the name when the server names it',
      errs.length === 1 && /409/.test(errs[0].text) && (errs[0].field === 'name' || errs[0].field === 'form'),
      JSON.stringify(errs));
    await page.check('#int-trust input[value="pin"]');
    check('choosing "pin" shows its field', await page.isVisible('#int-pin'));
    await page.fill('#int-pin', '12:34');
    await submitAdd(page, 'pinned', 'https://127.0.0.1:9/hook');
    errs = await addErrors(page);
    check('a pin that is not a SHA-256 is refused next to the pin field',
      errs.length === 1 && errs[0].field === 'pin', JSON.stringify(errs));
    await shot(page, '05-pin-error');
    await page.fill('#int-pin', '');
  });

  await step('a CA file, then a client keystore', async () => {
    await page.check('#int-trust input[value="ca"]');
    check('choosing "CA file" shows the file picker', await page.isVisible('#int-ca-file'));
    check('and hides the pin', !(await page.isVisible('#int-pin')));
    await page.setInputFiles('#int-ca-file', path.join(env.C, 'ca.pem'));
    await submitAdd(page, 'secure', 'https://127.0.0.1:9/hook');
    check('an https integration with a CA file is added', await page.isVisible('#int-secret'), JSON.stringify(await addErrors(page)));
    await takeSecret(page);
    await page.click('#int-secret-done');
    let it = await apiGet(page, 'secure');
    eq('the server trusts the CA file for it', it && it.trust, 'ca');
    check('naming its subject', it && (it.ca_subjects || []).some((s) => /Receiver CA/.test(s)), JSON.stringify(it));

    await page.setInputFiles('#int-keystore', path.join(env.C, 'client.p12'));
    check('choosing a keystore asks for its password', await page.isVisible('#int-keystore-password'));
    await page.fill('#int-keystore-password', 'wrong-password');
    await submitAdd(page, 'mtls', 'https://127.0.0.1:9/hook');
    let errs = await addErrors(page);
    check('a wrong keystore password is refused next to the keystore field',
      errs.length === 1 && errs[0].field === 'client_keystore', JSON.stringify(errs));
    eq('the password field is emptied', await page.inputValue('#int-keystore-password'), '');
    await shot(page, '06-keystore-error');
    await page.fill('#int-keystore-password', 'client-pass-1');
    await submitAdd(page, 'mtls', 'https://127.0.0.1:9/hook');
    check('with the right password it is added', await page.isVisible('#int-secret'), JSON.stringify(await addErrors(page)));
    await takeSecret(page);
    await page.click('#int-secret-done');
    it = await apiGet(page, 'mtls');
    check('the server holds the client certificate', it && it.client_certificate &&
      /atrium-client/.test(it.client_certificate.subject), JSON.stringify(it));
    eq('and the trust store as its trust (the default)', it && it.trust, 'store');
  });

  await step('edit', async () => {
    await page.click('tr[data-name="ci"] .i-edit');
    eq('Edit fills the form with the integration', await page.inputValue('#int-url'), RECEIVER);
    eq('under its name', await text(page, '#int-form-title'), 'Edit ci');
    eq('which cannot be changed', await page.getAttribute('#int-name', 'readonly'), '');
    eq('with its kinds checked', await page.locator('#int-kinds input.i-kind:checked').count(), 2);
    await page.fill('#int-project', 'plant');
    await page.check('#int-events-all');
    await shot(page, '07-edit');
    const [req] = await Promise.all([
      page.waitForRequest((q) => q.url().endsWith('/admin/api/integrations/ci') && q.method() === 'PUT'),
      page.click('#int-add-submit')
    ]);
    const sent = JSON.parse(req.postData() || '{}');
    eq('Save sends a PUT without the name', sent.name, undefined);
    await page.waitForFunction(() => /Saved ci/.test(document.querySelector('#flash').textContent));
    let it = await apiGet(page, 'ci');
    eq('the server has the project filter', it && it.project, 'plant');
    eq('and every kind', JSON.stringify(it && it.events), '["*"]');
    eq('the URL is kept', it && it.url, RECEIVER);
    eq('the form is back to adding', await text(page, '#int-form-title'), 'Add an integration');

    await page.click('tr[data-name="ci"] .i-edit');
    await page.fill('#int-project', '');
    await page.click('#int-add-submit');
    await page.waitForFunction(() => /Saved ci/.test(document.querySelector('#flash').textContent));
    it = await apiGet(page, 'ci');
    eq('an emptied project clears the filter', it && it.project, null);

    await page.click('tr[data-name="mtls"] .i-edit');
    check('a client certificate in force is named', /Presented now: .*atrium-client/.test(
      await text(page, '#int-keystore-current-text')), await text(page, '#int-keystore-current-text'));
    await page.check('#int-keystore-remove');
    await page.click('#int-add-submit');
    await page.waitForFunction(() => /Saved mtls/.test(document.querySelector('#flash').textContent));
    eq('"Present no client certificate" removes it', (await apiGet(page, 'mtls')).client_certificate, null);

    await page.click('tr[data-name="secure"] .i-edit');
    eq('a CA file in force is the trust chosen', await page.isChecked('#int-trust input[value="ca"]'), true);
    await page.fill('#int-url', 'http://192.0.2.10/hook');
    await page.click('#int-add-submit');
    await page.waitForSelector('#int-add-form .field-error:not([hidden]), #int-add-form .form-error:not([hidden])');
    const errs = await addErrors(page);
    check('a refused change shows its error next to the field the server names',
      errs.length === 1 && ['url', 'ca_pem'].includes(errs[0].field), JSON.stringify(errs));
    eq('and changes nothing', (await apiGet(page, 'secure')).url, 'https://127.0.0.1:9/hook');
    await page.click('#int-edit-cancel');
    eq('Cancel empties the form', await page.inputValue('#int-url'), '');
  });

  await step('pause and resume', async () => {
    await page.click('tr[data-name="ci"] .i-pause');
    await page.waitForSelector('tr[data-name="ci"][data-state="paused"]');
    eq('Pause: the list shows it paused', await text(page, 'tr[data-name="ci"] .i-state .badge'), 'paused');
    eq('the server agrees', (await apiGet(page, 'ci')).state, 'paused');
    check('the page says events are kept', /paused: events are kept/.test(await text(page, '#flash')), await text(page, '#flash'));
    await shot(page, '08-paused');
    await page.goto(`${ORIGIN}/#/`);
    await page.waitForSelector('#ov-warnings-card:not([hidden])');
    check('the Overview lists it under "Needs attention"', /The integration ci is paused \(paused by admin\): \d+ deliver.* Resume it/.test(
      await text(page, '#ov-warnings')), await text(page, '#ov-warnings'));
    await goIntegrations(page);
    await page.click('tr[data-name="ci"] .i-resume');
    await page.waitForSelector('tr[data-name="ci"][data-state="active"]');
    eq('Resume: active again', (await apiGet(page, 'ci')).state, 'active');
  });

  await step('test and the log', async () => {
    await page.click('tr[data-name="ci"] .i-test');
    await page.waitForSelector('#int-log:not([hidden])');
    check('Test queues a delivery and says so', /Queued a test event for ci as delivery \d+/.test(await text(page, '#flash')),
      await text(page, '#flash'));
    eq('the log of ci opens', await text(page, '#int-log-title'), 'Delivery log of ci');
    await page.waitForSelector('#int-log-table tbody tr .l-event:text("integration.test")', { timeout: 45000 });
    const row = page.locator('#int-log-table tbody tr').first();
    eq('the attempt is delivered', (await row.locator('.l-outcome').textContent()).trim(), 'delivered');
    check('with the receiver\'s status and the time it took',
      /^204, \d+ ms$/.test((await row.locator('.l-status').textContent()).trim()),
      await row.locator('.l-status').textContent());
    check('the receiver got it', received().some((r) => r.body.type === 'integration.test'), JSON.stringify(received()));
    await page.waitForFunction(() => /delivered/.test(document.querySelector('tr[data-name="ci"] .i-last').textContent));
    ok('the list shows the last delivery');
    await shot(page, '09-log');

    const before = received().length;
    await page.click('#int-log-table tbody tr .l-redeliver');
    await page.waitForFunction(() => /Queued delivery \d+ of ci again/.test(document.querySelector('#flash').textContent));
    ok('Redeliver queues it again and says so');
    for (let i = 0; i < 100 && received().length === before; i++) await page.waitForTimeout(100);
    const got = received();
    check('the receiver gets the same webhook-id again', got.length === before + 1 &&
      got[got.length - 1].id === got[before - 1].id, JSON.stringify(got));
    await page.click('#int-log-close');
    check('Close hides the log', !(await page.isVisible('#int-log')));
  });

  await step('a failing receiver in the log', async () => {
    await page.click('tr[data-name="secure"] .i-test');
    await page.waitForSelector('#int-log-table tbody tr .l-outcome:text("retry")', { timeout: 45000 });
    eq('the log of secure is open', await text(page, '#int-log-title'), 'Delivery log of secure');
    const row = page.locator('#int-log-table tbody tr').first();
    check('the attempt says why it failed, in the deliverer\'s words',
      /127\.0\.0\.1:9 refused the connection/.test(await row.locator('.l-error').textContent()),
      await row.locator('.l-error').textContent());
    check('and when the next attempt is', /^next \d{4}-\d\d-\d\d \d\d:\d\d$/.test(
      (await row.locator('.l-next').textContent()).trim()), await row.locator('.l-next').textContent());
    await page.waitForFunction(() => /retry/.test(document.querySelector('tr[data-name="secure"] .i-last').textContent));
    eq('the list shows it waiting', await text(page, 'tr[data-name="secure"] .i-pending'), '1');
    await shot(page, '10-log-failing');
    await page.click('#int-log-close');
  });

  await step('rotate the secret', async () => {
    await page.click('tr[data-name="ci"] .i-rotate');
    await page.waitForSelector('#int-table .subrow .i-confirm-yes');
    check('Rotate asks first, with the overlap in hours', await page.isVisible('#int-table .subrow .i-overlap-hours'));
    await page.fill('#int-table .subrow .i-overlap-hours', '2');
    const [req] = await Promise.all([
      page.waitForRequest((q) => q.url().endsWith('/rotate-secret') && q.method() === 'POST'),
      page.click('#int-table .subrow .i-confirm-yes')
    ]);
    eq('it sends the overlap', JSON.parse(req.postData() || '{}').overlap_hours, 2);
    await page.waitForSelector('#int-secret:not([hidden])');
    const s2 = await takeSecret(page);
    check('a new secret is shown once', /^whsec_/.test(s2) && s2 !== secret1, s2);
    check('saying until when both sign', /both signatures/.test(await text(page, '#int-secret-text')),
      await text(page, '#int-secret-text'));
    await shot(page, '11-rotated');
    await page.click('#int-secret-done');
  });

  await step('remove', async () => {
    await page.click('tr[data-name="secure"] .i-remove');
    await page.waitForSelector('#int-table .subrow .i-confirm-yes');
    check('Remove asks first, naming what goes with it', /Remove secure\? .*waiting and its log/.test(
      await text(page, '#int-table .subrow .i-confirm-text')), await text(page, '#int-table .subrow .i-confirm-text'));
    await shot(page, '12-remove-confirm');
    await page.click('#int-table .subrow .i-cancel');
    check('Cancel keeps it', !!(await apiGet(page, 'secure')));
    await page.click('tr[data-name="secure"] .i-remove');
    await page.click('#int-table .subrow .i-confirm-yes');
    await page.waitForFunction(() => !document.querySelector('#int-table tr[data-name="secure"]'));
    check('confirmed, it is gone from the server', !(await apiGet(page, 'secure')));
  });

  await step('a name that is HTML', async () => {
    const hostile = '<img src=x onerror=window.__pwned=1>';
    await submitAdd(page, hostile, RECEIVER);
    if (await page.isVisible('#int-secret')) {
      await takeSecret(page);
      await page.click('#int-secret-done');
      await page.waitForSelector('#int-table tbody tr .i-name:text("<img")');
      eq('it is shown as text', await text(page, '#int-table tbody tr .i-name:text("<img")'), hostile);
    } else {
      const errs = await addErrors(page);
      check('or refused next to the name', errs.length === 1 && errs[0].field === 'name', JSON.stringify(errs));
    }
    eq('no element was made from it', await page.locator('#view-integrations img, #flash img').count(), 0);
    eq('and no script ran', await page.evaluate(() => window.__pwned), undefined);
  });

  await step('phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await goIntegrations(page);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(`at 390 px the page fits the width (${width} px)`, width <= 390);
    await shot(page, '13-phone');
  });

  check('no page broke the Content-Security-Policy', cspViolations.length === 0, cspViolations.join('\n'));
  check('no script error', pageErrors.length === 0, pageErrors.join('\n'));
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

main().then(() => {
  process.exit(failures ? 1 : 0);
}).catch((e) => {
  notOk('the browser test ran to the end', e && e.stack ? e.stack : e);
  process.exit(1);
});
