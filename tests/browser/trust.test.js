/*
 * The console's "Trusted certificates" page in headless Chromium, against a
 * real atriumd and openssl s_server started by trust.sh (which exports the
 * ports, the data folder and the certificates). Prints TAP.
 *
 * As in console.test.js, the browser trusts the console only because the
 * local CA is imported into its profile's NSS store.
 */
'use strict';

const { chromium } = require('playwright-core');
const cp = require('child_process');
const fs = require('fs');
const path = require('path');

const env = process.env;
for (const k of ['ADMIN_PORT', 'SERVER_PID', 'DATA', 'ART', 'T', 'CA', 'C', 'SPORT']) {
  if (!env[k]) {
    console.log(`not ok - trust.test.js runs from trust.sh (${k} is not set)`);
    process.exit(1);
  }
}
const ORIGIN = `https://localhost:${env.ADMIN_PORT}`;
const ADMIN_PASSWORD = env.ATRIUM_ADMIN_PASSWORD || 'admin-secret-1';
const P12 = path.join(env.DATA, 'tls', 'truststore.p12');

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

function fp(file) {
  return sh(`openssl x509 -in "${file}" -noout -fingerprint -sha256`).trim().replace(/^.*=/, '');
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(env.ART, `trust-${name}.png`), fullPage: true });
}

async function text(page, sel) {
  return (await page.locator(sel).textContent() || '').trim();
}

/* The trust table as [alias, subject, issuer, until, sha256, ca] rows. */
function rows(page) {
  return page.locator('#trust-table tbody tr[data-alias]').evaluateAll((trs) =>
    trs.map((tr) => Array.from(tr.cells).slice(0, 6).map((td) => td.textContent)));
}

/* The entries as the API lists them, fetched from inside the page. */
function apiEntries(page) {
  return page.evaluate(async () => {
    const res = await fetch('/admin/api/trust');
    return (await res.json()).entries;
  });
}

async function goTrust(page) {
  await page.goto('about:blank');
  await page.goto(`${ORIGIN}/#/trust`);
  await page.waitForSelector('#view-trust:not([hidden])');
  await page.waitForLoadState('networkidle');
}

async function main() {
  const profile = fs.mkdtempSync(path.join(env.T, 'chromium-trust-'));
  const db = path.join(profile, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true });
  sh(`certutil -d "sql:${db}" -N --empty-password && certutil -d "sql:${db}" -A -t "C,," -n atrium -i "${env.CA}"`);
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    env: { ...process.env, HOME: profile },
    viewport: { width: 1280, height: 800 }
  });
  const page = await ctx.newPage();
  const pageErrors = [];
  const cspViolations = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
  });

  const corpFp = fp(path.join(env.C, 'corp.pem'));
  const uploadFp = fp(path.join(env.C, 'upload.pem'));
  const caFp = fp(path.join(env.C, 'recv-ca.pem'));
  const leafFp = fp(path.join(env.C, 'leaf.pem'));

  await step('login', async () => {
    await page.goto(`${ORIGIN}/#/trust`);
    await page.waitForSelector('#view-login:not([hidden])');
    await page.fill('#login-user', 'admin');
    await page.fill('#login-password', ADMIN_PASSWORD);
    await page.click('#login-submit');
    await page.waitForSelector('#view-trust:not([hidden])');
    ok('after login the page asked for (#/trust) is shown');
  });

  await step('the list', async () => {
    await page.waitForSelector('#trust-table tbody tr[data-alias="corp-root"]');
    eq('the navigation names the page', await text(page, '#nav a[data-route=trust]'), 'Trusted certificates');
    const r = await rows(page);
    eq('the page lists the one entry imported through the API', r.length, 1);
    eq('its alias', r[0][0], 'corp-root');
    eq('its subject, as keytool shows it', r[0][1], 'O=Atrium browser test, CN=Corp Root');
    eq('its issuer (itself)', r[0][2], 'O=Atrium browser test, CN=Corp Root');
    check('valid until, as a date', /^\d{4}-\d\d-\d\d$/.test(r[0][3]), r[0][3]);
    eq('its SHA-256 fingerprint, as openssl computes it', r[0][4], corpFp);
    eq('and that it is a CA', r[0][5], 'yes');
    check('no problem is shown for a readable file', !(await page.isVisible('#trust-problem')));
    check('the page says the system roots are trusted too', /outbound_system_roots = on/.test(
      await text(page, '#trust-system')), await text(page, '#trust-system'));
    await shot(page, '01-list');
  });

  await step('import a file', async () => {
    await page.setInputFiles('#trust-import-file', path.join(env.C, 'upload.der'));
    await page.fill('#trust-import-alias', 'uploaded');
    await page.click('#trust-import-submit');
    await page.waitForSelector('#trust-table tbody tr[data-alias="uploaded"]');
    check('a DER file chosen in the picker is imported under the alias given',
      /Trusted uploaded/.test(await text(page, '#flash')), await text(page, '#flash'));
    const e = (await apiEntries(page)).find((x) => x.alias === 'uploaded');
    eq('the server holds it with the file\'s fingerprint', e && e.sha256, uploadFp);
    eq('the form is emptied', await page.inputValue('#trust-import-alias'), '');
    await shot(page, '02-imported');
  });

  await step('import the same again', async () => {
    await page.setInputFiles('#trust-import-file', path.join(env.C, 'upload.pem'));
    await page.click('#trust-import-submit');
    await page.waitForSelector('#trust-import-form .form-error:not([hidden]), #trust-import-form .field-error:not([hidden])');
    const msg = await page.evaluate(() => Array.from(document.querySelectorAll(
      '#trust-import-form .form-error, #trust-import-form .field-error')).filter((p) => !p.hidden)
      .map((p) => p.textContent).join(' '));
    check('the same certificate again is refused with the server\'s sentence and status',
      /already trusted.*uploaded/.test(msg) && /409 exists/.test(msg), msg);
    await page.setInputFiles('#trust-import-file', []);
  });

  await step('hostile subject', async () => {
    await page.fill('#trust-import-pem', fs.readFileSync(path.join(env.C, 'hostile.pem'), 'utf8'));
    await page.click('#trust-import-submit');
    await page.waitForFunction(() => document.querySelectorAll('#trust-table tbody tr[data-alias]').length === 3);
    const r = await rows(page);
    const h = r.find((x) => x[1].includes('img'));
    check('pasted PEM is imported: a CN holding an HTML element',
      h !== undefined, JSON.stringify(r));
    check('its subject shows as text, the element\'s source intact',
      h && h[1].includes('<img src=x onerror=window.__pwned=1>'), JSON.stringify(h));
    eq('no element was made from it', await page.locator('#view-trust img, #flash img').count(), 0);
    eq('and no script ran', await page.evaluate(() => window.__pwned), undefined);
    await shot(page, '03-hostile-subject');
  });

  await step('remove', async () => {
    await page.click('tr[data-alias="uploaded"] .t-remove');
    await page.waitForSelector('.t-delete-yes');
    check('Remove asks first, naming the subject',
      /Stop trusting uploaded \(CN=Uploaded Root\)/.test(await text(page, '.t-delete-text')),
      await text(page, '.t-delete-text'));
    await shot(page, '04-remove-confirm');
    await page.click('.t-cancel');
    eq('Cancel keeps it', (await apiEntries(page)).some((x) => x.alias === 'uploaded'), true);
    await page.click('tr[data-alias="uploaded"] .t-remove');
    await page.click('.t-delete-yes');
    await page.waitForFunction(() => !document.querySelector('#trust-table tr[data-alias="uploaded"]'));
    eq('confirmed, it is gone from the server', (await apiEntries(page)).some((x) => x.alias === 'uploaded'), false);
    check('and the page says so', /Removed uploaded/.test(await text(page, '#flash')), await text(page, '#flash'));
  });

  await step('fetch from a server', async () => {
    await page.fill('#trust-fetch-host', '127.0.0.1');
    await page.fill('#trust-fetch-port', env.SPORT);
    await page.click('#trust-fetch-submit');
    await page.waitForSelector('#trust-chain:not([hidden]), #trust-fetch-error:not([hidden])');
    const chain = await page.locator('#trust-chain-table tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({ role: tr.getAttribute('data-role'), cells: Array.from(tr.cells).map((td) => td.textContent.trim()) })));
    eq('openssl s_server\'s chain is shown: leaf and root', chain.map((c) => c.role).join(','), 'leaf,root');
    check('the leaf with its subject and fingerprint', chain[0] && chain[0].cells[1] === 'CN=receiver.test' &&
      chain[0].cells[4] === leafFp, JSON.stringify(chain[0]));
    check('the root with its subject and fingerprint', chain[1] && chain[1].cells[1] === 'CN=Receiver Test CA' &&
      chain[1].cells[4] === caFp, JSON.stringify(chain[1]));
    check('the page says it is not trusted yet', /not trusted/.test(await text(page, '#trust-chain-summary')),
      await text(page, '#trust-chain-summary'));
    eq('the root is the one chosen', await text(page, '#trust-fetch-trust'), 'Trust this root');
    eq('nothing is trusted by fetching', (await apiEntries(page)).some((x) => x.sha256 === caFp), false);
    await shot(page, '05-fetched-chain');

    const [req] = await Promise.all([
      page.waitForRequest((q) => q.url().endsWith('/admin/api/trust/fetch') && q.method() === 'POST'),
      page.click('#trust-fetch-trust')
    ]);
    const sent = JSON.parse(req.postData() || '{}');
    eq('"Trust this root" sends the root\'s fingerprint back', sent.trust, caFp);
    check('with the CSRF token', !!(await req.allHeaders())['x-csrf-token']);
    await page.waitForFunction(() => /Trusted /.test(document.querySelector('#flash').textContent));
    const e = (await apiEntries(page)).find((x) => x.sha256 === caFp);
    check('the root is in the trust store', e && e.alias === 'receiver-test-ca', JSON.stringify(e));
    await page.waitForSelector('#trust-table tbody tr[data-alias="receiver-test-ca"]');
    ok('and listed on the page');
    await shot(page, '06-root-trusted');

    await page.click('#trust-fetch-submit');
    await page.waitForSelector('#trust-chain:not([hidden])');
    check('fetched again, the chain is trusted now', /trusted already/.test(await text(page, '#trust-chain-summary')),
      await text(page, '#trust-chain-summary'));
  });

  await step('fetch from a closed port', async () => {
    await page.fill('#trust-fetch-host', '127.0.0.1');
    await page.fill('#trust-fetch-port', '1');
    await page.click('#trust-fetch-submit');
    await page.waitForSelector('#trust-fetch-error:not([hidden])');
    const msg = await text(page, '#trust-fetch-error');
    check('a fetch that cannot connect shows the server\'s sentence and 502 network', /502 network/.test(msg), msg);
  });

  await step('a damaged file', async () => {
    const good = fs.readFileSync(P12);
    const bad = Buffer.from(good);
    bad[40] ^= 0xff;
    fs.writeFileSync(P12 + '.tmp', bad);
    fs.renameSync(P12 + '.tmp', P12);
    await goTrust(page);
    await page.waitForSelector('#trust-problem:not([hidden])');
    check('the page shows the problem in the server\'s words',
      /fails its integrity check/.test(await text(page, '#trust-problem-text')), await text(page, '#trust-problem-text'));
    eq('the badge says the file is damaged', await text(page, '#trust-badge'), 'Damaged file');
    check('and still lists the certificates in force', (await rows(page)).some((r) => r[0] === 'corp-root'));
    await shot(page, '07-damaged-file');
    await page.fill('#trust-import-pem', fs.readFileSync(path.join(env.C, 'upload.pem'), 'utf8'));
    await page.click('#trust-import-submit');
    await page.waitForSelector('#trust-import-error:not([hidden])');
    check('an import is refused meanwhile, saying why',
      /integrity check/.test(await text(page, '#trust-import-error')), await text(page, '#trust-import-error'));
    fs.writeFileSync(P12 + '.tmp', good);
    fs.renameSync(P12 + '.tmp', P12);
    await goTrust(page);
    check('repaired, the problem is gone', !(await page.isVisible('#trust-problem')));
  });

  await step('phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await goTrust(page);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(`at 390 px the page fits the width (${width} px)`, width <= 390);
    await shot(page, '08-phone');
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
