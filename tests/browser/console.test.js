/*
 * The admin console in headless Chromium, against a real atriumd started by
 * console.sh (which exports the ports, the data folder and the keystores).
 * Prints TAP: one "ok - ..." or "not ok - ..." line per check.
 *
 * No --ignore-certificate-errors and no ignoreHTTPSErrors anywhere: the
 * browser trusts the console because the local CA is imported into its
 * profile's NSS store, and a fresh profile without it must be refused.
 * Every keystore uploaded here is signed by the local CA, so the browser
 * keeps trusting the console when its certificate changes.
 */
'use strict';

const { chromium } = require('playwright-core');
const cp = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const env = process.env;
for (const k of ['ADMIN_PORT', 'TLS_PORT', 'PORT', 'SERVER_PID', 'DATA', 'KS', 'KSPASS', 'ART', 'T', 'CA']) {
  if (!env[k]) {
    console.log(`not ok - console.test.js runs from console.sh (${k} is not set)`);
    process.exit(1);
  }
}
const ORIGIN = `https://localhost:${env.ADMIN_PORT}`;
const ADMIN_PASSWORD = env.ATRIUM_ADMIN_PASSWORD || 'admin-secret-1';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

/* ---- TAP ------------------------------------------------------------------ */

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

/* A step whose exception is a failure with its message; later steps still run. */
async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    notOk(name, e && e.stack ? e.stack : e);
  }
}

/* ---- the world outside the browser ---------------------------------------------- */

function sh(cmd) {
  return cp.execFileSync('bash', ['-c', cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/* The SHA-256 fingerprint of the certificate served on a port, as openssl s_client sees it. */
function servedSha256(port) {
  try {
    const out = sh(`openssl s_client -connect 127.0.0.1:${port} -servername localhost </dev/null 2>/dev/null | ` +
      'openssl x509 -noout -fingerprint -sha256');
    return out.trim().replace(/^.*=/, '');
  } catch (e) {
    return null;
  }
}

/* Whether openssl s_client verifies the served chain against the local CA for localhost. */
function verifiesWithCa(port) {
  try {
    sh(`openssl s_client -connect 127.0.0.1:${port} -servername localhost -CAfile "${env.CA}" ` +
      '-verify_hostname localhost -verify_return_error -brief </dev/null >/dev/null 2>&1');
    return true;
  } catch (e) {
    return false;
  }
}

function fileSha256(file) {
  return sh(`openssl x509 -in "${file}" -noout -fingerprint -sha256`).trim().replace(/^.*=/, '');
}

/* Whether something accepts TCP connections on 127.0.0.1:port. */
function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: Number(port) });
    const done = (v) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(2000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function serverAlive() {
  try {
    process.kill(Number(env.SERVER_PID), 0);
    return true;
  } catch (e) {
    return false;
  }
}

/* A plain-port API login (not the console's): the token, or null. */
async function apiLogin(user, password) {
  const res = await fetch(`http://127.0.0.1:${env.PORT}/api/v1/session`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, password })
  });
  return res.ok ? (await res.json()).token : null;
}

/* ---- the browser ------------------------------------------------------------------------- */

function freshProfile(name) {
  return fs.mkdtempSync(path.join(env.T, `chromium-${name}-`));
}

/*
 * A persistent context on its own profile. HOME points into the profile,
 * so Chromium's NSS store ($HOME/.pki/nssdb) is the profile's own.
 */
function launch(profile, viewport) {
  return chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    env: { ...process.env, HOME: profile },
    viewport: viewport || { width: 1280, height: 800 },
    acceptDownloads: true
  });
}

function trustLocalCa(profile) {
  const db = path.join(profile, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true });
  sh(`certutil -d "sql:${db}" -N --empty-password && ` +
    `certutil -d "sql:${db}" -A -t "C,," -n atrium -i "${env.CA}"`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(env.ART, `${name}.png`), fullPage: true });
}

function visible(page, sel) {
  return page.locator(sel).isVisible();
}

async function text(page, sel) {
  return (await page.locator(sel).textContent() || '').trim();
}

/* A fresh load of a page of the console (a hash change alone would not reload its data). */
async function go(page, hash, view) {
  await page.goto('about:blank');
  await page.goto(`${ORIGIN}/#/${hash}`);
  await page.waitForSelector(`#view-${view}:not([hidden])`);
  await page.waitForLoadState('networkidle');
}

/* A request from inside the page, as the console's own script makes it (cookie, no CSRF token). */
function pageFetch(page, method, url, body) {
  return page.evaluate(async ([m, u, b]) => {
    const opts = { method: m, headers: {} };
    if (b !== null) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(b);
    }
    const res = await fetch(u, opts);
    const t = await res.text();
    let json = null;
    try {
      json = JSON.parse(t);
    } catch (e) {
      json = null;
    }
    return { status: res.status, json };
  }, [method, url, body === undefined ? null : body]);
}

/* Waits for the flash line or for an error next to a field; returns which. */
async function waitOutcome(page, fieldSel) {
  await page.waitForSelector(`#flash:not([hidden]), ${fieldSel}:not([hidden]), #tls-error:not([hidden])`);
  return page.evaluate((f) => {
    const vis = (s) => { const e = document.querySelector(s); return e && !e.hidden ? e.textContent.trim() : null; };
    return { field: vis(f), general: vis('#tls-error'), flash: vis('#flash') };
  }, fieldSel);
}

/* ---- the steps -------------------------------------------------------------------------------- */

async function main() {
  const original = servedSha256(env.TLS_PORT);
  check('openssl s_client sees a certificate on the TLS port', original, 'no certificate');
  eq('the admin port serves the same certificate as the TLS port', servedSha256(env.ADMIN_PORT), original);

  /* 1. Without the local CA, the browser refuses the console. */
  await step('a fresh profile without the local CA is refused', async () => {
    const profile = freshProfile('untrusted');
    const ctx = await launch(profile);
    const page = await ctx.newPage();
    let err = null;
    try {
      await page.goto(`${ORIGIN}/`);
    } catch (e) {
      err = e.message;
    }
    await ctx.close();
    check('a fresh profile without the local CA gets net::ERR_CERT_AUTHORITY_INVALID',
      err && err.includes('net::ERR_CERT_AUTHORITY_INVALID'), err || 'the page loaded');
  });

  /* 2. With the local CA in the profile's NSS store: no error, no flag. */
  const profile = freshProfile('trusted');
  trustLocalCa(profile);
  const ctx = await launch(profile);
  const page = await ctx.newPage();
  const cspViolations = [];
  const foreign = [];
  const pageErrors = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  ctx.on('request', (r) => {
    if (!r.url().startsWith(ORIGIN + '/') && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) {
      foreign.push(r.url());
    }
  });

  await step('the console loads in the trusting profile', async () => {
    const res = await page.goto(`${ORIGIN}/`);
    eq('with the local CA imported into the profile (certutil), the console loads with no certificate error',
      res.status(), 200);
    await page.waitForSelector('#view-login:not([hidden])');
    ok('an unauthenticated visit shows the login page');
    eq('the login password field is empty', await page.inputValue('#login-password'), '');
    await shot(page, '01-login');
  });

  await step('login', async () => {
    await page.fill('#login-user', 'admin');
    await page.fill('#login-password', 'not-the-password');
    await page.click('#login-submit');
    await page.waitForSelector('#login-error:not([hidden])');
    const msg = await text(page, '#login-error');
    check('a wrong password is refused with a sentence', /wrong|incorrect/i.test(msg), msg);
    eq('and the password field is emptied', await page.inputValue('#login-password'), '');

    await page.fill('#login-user', 'admin');
    await page.fill('#login-password', ADMIN_PASSWORD);
    await page.click('#login-submit');
    await page.waitForSelector('#view-overview:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#ov-tls-state').textContent !== '–');
    ok('the admin logs in and sees the overview');

    const cookies = await ctx.cookies(ORIGIN);
    const c = cookies.find((x) => x.name === 'atrium_admin');
    check('the session cookie is Secure, HttpOnly and SameSite=Strict',
      c && c.secure && c.httpOnly && c.sameSite === 'Strict', JSON.stringify(c));
  });

  await step('overview', async () => {
    eq('the overview shows the plain port open', await text(page, '#ov-plain-state'), 'Open');
    check('with its number and that it is unencrypted',
      (await text(page, '#ov-plain-note')).includes(`port ${env.PORT}`), await text(page, '#ov-plain-note'));
    check('and a warning that it is open', /plain port .* is open/i.test(await text(page, '#ov-warnings')),
      await text(page, '#ov-warnings'));
    eq('the overview shows TLS on', await text(page, '#ov-tls-state'), 'On');
    eq('with the TLS port', await text(page, '#ov-tls-note'), `port ${env.TLS_PORT}`);
    check('the overview shows the certificate\'s days left',
      /^\d+ days? left$/.test(await text(page, '#ov-cert-days')), await text(page, '#ov-cert-days'));
    check('and that it comes from the local CA', (await text(page, '#ov-cert-note')).includes('local CA'),
      await text(page, '#ov-cert-note'));
    eq('the overview shows the admin port', await text(page, '#ov-admin-port'), `Port ${env.ADMIN_PORT}`);
    await shot(page, '02-overview');
  });

  await step('a change without the CSRF token', async () => {
    const res = await pageFetch(page, 'PUT', '/admin/api/settings/plain', { enabled: false });
    eq('a change carrying the cookie but no CSRF token is refused with 403', res.status, 403);
    check('and changes nothing', await portOpen(env.PORT), 'the plain port closed');
  });

  /* 3. Server Settings: the keystore upload. */
  await step('settings page', async () => {
    await go(page, 'settings', 'settings');
    check('Server Settings shows the Secured connection card',
      (await text(page, '#tls-form h2')) === 'Secured connection');
    check('Use TLS is on', await page.isChecked('#tls-enabled'));
    eq('the port is the TLS port', await page.inputValue('#tls-port'), env.TLS_PORT);
    eq('the keystore password field is empty (never pre-filled)', await page.inputValue('#tls-password'), '');
    await shot(page, '03-settings');
  });

  await step('wrong keystore password', async () => {
    await page.setInputFiles('#tls-keystore', path.join(env.KS, 'server.jks'));
    await page.fill('#tls-password', 'not-the-keystore-password');
    await page.click('#tls-save');
    const r = await waitOutcome(page, '#tls-form .field-error[data-for=password]');
    check('a keytool JKS with the wrong password: the error is shown next to the password',
      r.field && /password/i.test(r.field), JSON.stringify(r));
    eq('the password field is emptied', await page.inputValue('#tls-password'), '');
    await shot(page, '04-settings-wrong-password');
    eq('openssl s_client still sees the old certificate on the TLS port', servedSha256(env.TLS_PORT), original);
  });

  await step('not a keystore', async () => {
    await page.setInputFiles('#tls-keystore', path.join(env.KS, 'notes.txt'));
    await page.fill('#tls-password', env.KSPASS);
    await page.click('#tls-save');
    const r = await waitOutcome(page, '#tls-form .field-error[data-for=keystore]');
    check('a text file: "not a keystore" is shown next to the keystore file', r.field, JSON.stringify(r));
    eq('and the old certificate stays', servedSha256(env.TLS_PORT), original);
  });

  await step('port in use', async () => {
    await page.setInputFiles('#tls-keystore', []);
    await page.fill('#tls-port', env.PORT);
    await page.click('#tls-save');
    const r = await waitOutcome(page, '#tls-form .field-error[data-for=port]');
    check('a port already in use: the error is shown next to the port', r.field, JSON.stringify(r));
    check('the TLS port still listens', await portOpen(env.TLS_PORT));
    eq('with the old certificate', servedSha256(env.TLS_PORT), original);
    await go(page, 'settings', 'settings');
  });

  const mydomain = fileSha256(path.join(env.KS, 'mydomain.crt'));
  await step('right keystore password', async () => {
    await page.setInputFiles('#tls-keystore', path.join(env.KS, 'server.jks'));
    await page.fill('#tls-password', env.KSPASS);
    await page.click('#tls-save');
    const r = await waitOutcome(page, '#tls-form .field-error[data-for=password]');
    check('with the right password Save succeeds', r.flash && /Saved/.test(r.flash), JSON.stringify(r));
    eq('openssl s_client sees the new certificate on the TLS port without a restart',
      servedSha256(env.TLS_PORT), mydomain);
    check('atriumd kept running (same process)', serverAlive());
    check('the new chain verifies against the local CA for localhost', verifiesWithCa(env.TLS_PORT));
    eq('the admin port serves it too', servedSha256(env.ADMIN_PORT), mydomain);
    eq('the password field is emptied after Save', await page.inputValue('#tls-password'), '');
    check('the card names the keystore in use',
      /In use: .*\(JKS, alias mydomain\)/.test(await text(page, '#tls-keystore-current')),
      await text(page, '#tls-keystore-current'));
    await shot(page, '05-settings-saved');
  });

  await step('the console after the change', async () => {
    await page.goto('about:blank');
    const res = await page.goto(`${ORIGIN}/#/certificate`);
    eq('the console reloads with its new certificate and no certificate error', res.status(), 200);
    await page.waitForSelector('#view-certificate:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#cert-sha256').textContent !== '');
    eq('the Certificate page shows the SHA-256 fingerprint openssl sees', await text(page, '#cert-sha256'),
      mydomain);
    check('and the subject', (await text(page, '#cert-subject')).includes('localhost'),
      await text(page, '#cert-subject'));
    check('the names (SAN)', /localhost/.test(await text(page, '#cert-sans')) &&
      /127\.0\.0\.1/.test(await text(page, '#cert-sans')), await text(page, '#cert-sans'));
    check('the validity with days left', /\d+ days? left/.test(await text(page, '#cert-validity')),
      await text(page, '#cert-validity'));
    check('and where it comes from', (await text(page, '#cert-origin')) !== '');
    const rows = await page.locator('#cert-coverage tbody tr').evaluateAll((trs) =>
      trs.map((tr) => Array.from(tr.cells).map((td) => td.textContent)));
    check('the coverage table lists the address in the address bar first, covered',
      rows.length > 1 && rows[0].join('|') === 'localhost|DNS|yes|this page\'s address', JSON.stringify(rows));
    check('and the host name', rows.some((r) => r[3] === 'host name'), JSON.stringify(rows));
    check('the keytool command is shown', /^keytool -genkeypair .*-ext SAN=dns:localhost/.test(
      await text(page, '#cert-keytool')), await text(page, '#cert-keytool'));
    await shot(page, '06-certificate');
  });

  await step('downloads', async () => {
    const get = async (sel) => {
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click(sel)]);
      const file = path.join(env.T, 'dl-' + dl.suggestedFilename());
      await dl.saveAs(file);
      return { name: dl.suggestedFilename(), data: fs.readFileSync(file) };
    };
    const pem = await get('#dl-ca-pem');
    eq('the CA certificate downloads as PEM', fileSha256Buf(pem.data), fileSha256(env.CA));
    const der = await get('#dl-ca-der');
    const derRef = cp.execFileSync('openssl', ['x509', '-in', env.CA, '-outform', 'der']);
    check('and as DER', Buffer.compare(der.data, derRef) === 0, `${der.data.length} bytes`);
    const jks = await get('#dl-cert-jks');
    const pass = await get('#dl-cert-pass');
    check('the client bundle downloads: cert.jks', Buffer.compare(jks.data,
      fs.readFileSync(path.join(env.DATA, 'tls', 'client', 'cert.jks'))) === 0, `${jks.data.length} bytes`);
    check('and cert.pass', Buffer.compare(pass.data,
      fs.readFileSync(path.join(env.DATA, 'tls', 'client', 'cert.pass'))) === 0);
  });

  /* The alias picker: a PKCS#12 with two key entries. */
  const green = fileSha256(path.join(env.KS, 'green.crt'));
  await step('alias picker', async () => {
    await go(page, 'settings', 'settings');
    await page.setInputFiles('#tls-keystore', path.join(env.KS, 'multi.p12'));
    await page.fill('#tls-password', env.KSPASS);
    await page.click('#tls-save');
    const r = await waitOutcome(page, '#tls-form .field-error[data-for=alias]');
    check('a keystore with two key entries asks which: the error is next to the alias', r.field,
      JSON.stringify(r));
    check('and the alias picker lists both', await visible(page, '#tls-alias-field') &&
      (await page.locator('#tls-alias option').allTextContents()).join(',').includes('blue') &&
      (await page.locator('#tls-alias option').allTextContents()).join(',').includes('green'),
      (await page.locator('#tls-alias option').allTextContents()).join(','));
    eq('nothing changed meanwhile', servedSha256(env.TLS_PORT), mydomain);
    await shot(page, '07-settings-alias');
    await page.selectOption('#tls-alias', 'green');
    if (await page.inputValue('#tls-password') === '') await page.fill('#tls-password', env.KSPASS);
    await page.click('#tls-save');
    const r2 = await waitOutcome(page, '#tls-form .field-error[data-for=alias]');
    check('with an alias chosen Save succeeds', r2.flash && /Saved/.test(r2.flash), JSON.stringify(r2));
    eq('and the TLS port serves that entry\'s certificate', servedSha256(env.TLS_PORT), green);
  });

  /* Use TLS off and on. */
  await step('Use TLS toggle', async () => {
    await page.uncheck('#tls-enabled');
    await page.click('#tls-save');
    await page.waitForSelector('#flash:not([hidden])');
    check('Use TLS off closes the TLS port at once', !(await portOpen(env.TLS_PORT)));
    await page.check('#tls-enabled');
    await page.click('#tls-save');
    await page.waitForFunction(() => /TLS port \d+ serves/.test(document.querySelector('#flash').textContent));
    check('Use TLS on opens it again', await portOpen(env.TLS_PORT));
    eq('with the same certificate', servedSha256(env.TLS_PORT), green);
  });

  /* A certificate that does not name the address in the address bar. */
  await step('misnamed certificate', async () => {
    await page.setInputFiles('#tls-keystore', path.join(env.KS, 'misnamed.p12'));
    check('before Save the page says the console and open tabs change certificate too',
      await visible(page, '#tls-upload-notice') &&
      /open tab/.test(await text(page, '#tls-upload-notice')), await text(page, '#tls-upload-notice'));
    await page.fill('#tls-password', env.KSPASS);
    await page.click('#tls-save');
    await page.waitForSelector('#tls-mismatch:not([hidden])');
    check('it is refused: the page says it does not name localhost',
      /does not name localhost/.test(await text(page, '#tls-mismatch-text')), await text(page, '#tls-mismatch-text'));
    const rows = await page.locator('#tls-mismatch-coverage tbody tr').evaluateAll((trs) =>
      trs.map((tr) => Array.from(tr.cells).map((td) => td.textContent)));
    check('with the coverage: localhost not covered', rows.length > 0 &&
      rows[0].join('|') === 'localhost|DNS|no|this page\'s address', JSON.stringify(rows));
    check('and the keytool command', /-ext SAN=dns:localhost/.test(await text(page, '#tls-mismatch-hint')),
      await text(page, '#tls-mismatch-hint'));
    check('and a way to upload it anyway', await visible(page, '#tls-force'));
    eq('nothing changed', servedSha256(env.TLS_PORT), green);
    await shot(page, '07b-settings-misnamed');
    await go(page, 'settings', 'settings');
  });

  /* A keystore under a well-known password, then re-protected. */
  const twc = fileSha256(path.join(env.KS, 'teamworkcloud.crt'));
  await step('well-known password', async () => {
    await page.setInputFiles('#tls-keystore', path.join(env.KS, 'keystore.p12'));
    await page.fill('#tls-password', 'changeit');
    await page.click('#tls-save');
    await page.waitForSelector('#tls-weak:not([hidden])');
    check('a keystore under "changeit" is accepted with a loud warning',
      /well-known password/.test(await text(page, '#tls-weak-text')), await text(page, '#tls-weak-text'));
    check('and the flash says so too', /well-known password/.test(await text(page, '#flash')),
      await text(page, '#flash'));
    eq('it is served', servedSha256(env.TLS_PORT), twc);
    await shot(page, '07c-settings-weak-password');
    await page.click('#tls-reprotect-now');
    await page.waitForFunction(() => /no longer used/.test(document.querySelector('#flash').textContent));
    check('"Re-protect it now" re-writes it under a password of the server\'s', !(await visible(page, '#tls-weak')));
    eq('and the same certificate is served', servedSha256(env.TLS_PORT), twc);
  });

  /* Clear: back to the local CA's certificate. */
  await step('Clear', async () => {
    await page.click('#tls-clear');
    await page.waitForSelector('#tls-clear-confirm:not([hidden])');
    await shot(page, '08-settings-clear-confirm');
    await page.click('#tls-clear-yes');
    await page.waitForFunction(() => /keystore is removed/.test(document.querySelector('#flash').textContent));
    eq('Clear: the TLS port serves the local CA\'s certificate again', servedSha256(env.TLS_PORT), original);
    check('which verifies against the local CA', verifiesWithCa(env.TLS_PORT));
    check('and the card says so', /local CA/.test(await text(page, '#tls-keystore-current')),
      await text(page, '#tls-keystore-current'));
  });

  /* The plain port. */
  await step('plain port toggle', async () => {
    check('the plain-port card warns that the port is open', await visible(page, '#plain-warning'));
    await page.uncheck('#plain-enabled');
    await page.waitForFunction(() => /closed/.test(document.querySelector('#flash').textContent));
    check('turning the plain port off closes it at once', !(await portOpen(env.PORT)));
    check('and the warning goes away', !(await visible(page, '#plain-warning')));
    await go(page, '', 'overview');
    await page.waitForFunction(() => document.querySelector('#ov-plain-state').textContent === 'Closed');
    ok('the overview shows the plain port closed');
    await shot(page, '09-overview-plain-closed');
    await go(page, 'settings', 'settings');
    await page.check('#plain-enabled');
    await page.waitForFunction(() => /open again/.test(document.querySelector('#flash').textContent));
    check('turning it on opens it again', await portOpen(env.PORT));
  });

  /* Users. */
  await step('users', async () => {
    await go(page, 'users', 'users');
    check('the Users page lists admin', await page.locator('tr[data-user=admin]').count() === 1);
    await shot(page, '10-users');
    await page.fill('#user-add-name', 'carol');
    await page.fill('#user-add-password', 'carol-pass-1');
    await page.click('#user-add-submit');
    await page.waitForSelector('tr[data-user=carol]');
    ok('add a user: carol appears in the list');
    check('carol can log in to the API with her password', await apiLogin('carol', 'carol-pass-1'));
    eq('the add form\'s password field is emptied', await page.inputValue('#user-add-password'), '');

    await page.fill('#user-add-name', 'carol');
    await page.fill('#user-add-password', 'carol-pass-1');
    await page.click('#user-add-submit');
    await page.waitForSelector('#user-add-form .field-error:not([hidden]), #user-add-error:not([hidden])');
    ok('adding her twice shows an error on the form');

    await page.selectOption('tr[data-user=carol] .u-role', 'admin');
    await page.waitForFunction(() => /carol is now an admin/.test(document.querySelector('#flash').textContent));
    let users = (await pageFetch(page, 'GET', '/admin/api/users')).json;
    eq('change the role: carol is an admin', (users.users.find((u) => u.name === 'carol') || {}).role, 'admin');

    await page.click('tr[data-user=carol] .u-reset');
    await page.fill('.u-reset-password', 'carol-pass-2');
    await page.click('.u-reset-form button[type=submit]');
    await page.waitForFunction(() => /password of carol is changed/.test(document.querySelector('#flash').textContent));
    check('reset the password: carol logs in with the new one', await apiLogin('carol', 'carol-pass-2'));

    await page.click('tr[data-user=carol] .u-delete');
    await shot(page, '11-users-delete-confirm');
    await page.click('.u-delete-yes');
    await page.waitForFunction(() => !document.querySelector('tr[data-user=carol]'));
    users = (await pageFetch(page, 'GET', '/admin/api/users')).json;
    check('delete: carol is gone', !users.users.some((u) => u.name === 'carol'), JSON.stringify(users));
  });

  /* Projects. */
  await step('projects', async () => {
    await go(page, 'projects', 'projects');
    const row = page.locator('tr[data-project=plant]');
    check('the Projects page lists plant', await row.count() === 1);
    const cells = await row.locator('td').allTextContents();
    eq('with its last revision', cells[1], '2');
    eq('its author', cells[2], 'admin');
    check('its time', /^\d{4}-\d\d-\d\d \d\d:\d\d$/.test(cells[3]), cells[3]);
    eq('and its size', cells[4], '2.4 MiB');
    await shot(page, '12-projects');
    await row.locator('a').click();
    await page.waitForSelector('#view-revisions:not([hidden])');
    await page.waitForFunction(() => document.querySelectorAll('#revisions-table tbody tr').length > 0);
    const revs = await page.locator('#revisions-table tbody tr').allTextContents();
    eq('its revisions, newest first', revs.length, 2);
    check('with their messages', /pumps added/.test(revs[0]) && /first cut/.test(revs[1]), revs.join(' | '));
    await shot(page, '13-revisions');
  });

  /* A phone. */
  await step('phone width', async () => {
    const phone = await ctx.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    for (const [hash, view, name] of [['', 'overview', '14-phone-overview'], ['settings', 'settings', '15-phone-settings'],
      ['users', 'users', '16-phone-users'], ['certificate', 'certificate', '17-phone-certificate']]) {
      await go(phone, hash, view);
      const width = await phone.evaluate(() => document.documentElement.scrollWidth);
      check(`at 390 px ${view} fits the width (${width} px)`, width <= 390);
      await shot(phone, name);
    }
    await phone.close();
  });

  check('no page broke the Content-Security-Policy', cspViolations.length === 0, cspViolations.join('\n'));
  check('nothing was loaded from anywhere but the console', foreign.length === 0, foreign.join('\n'));
  check('no script error on any page', pageErrors.length === 0, pageErrors.join('\n'));

  /* Log out; then the login rate limit. */
  await step('logout', async () => {
    await go(page, '', 'overview');
    await page.click('#logout');
    await page.waitForSelector('#view-login:not([hidden])');
    ok('log out shows the login page');
    const res = await pageFetch(page, 'GET', '/admin/api/session');
    eq('and the session is over (401)', res.status, 401);
  });

  await step('rate limit', async () => {
    let msg = '';
    let status = 0;
    let retryAfter = null;
    for (let i = 0; i < 8 && status !== 429; i++) {
      await page.fill('#login-user', 'mallory');
      await page.fill('#login-password', `guess-${i}`);
      const [resp] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/admin/api/login')),
        page.click('#login-submit')
      ]);
      status = resp.status();
      retryAfter = resp.headers()['retry-after'];
      await page.waitForSelector('#login-error:not([hidden])');
      await page.waitForFunction(() => !document.querySelector('#login-submit').disabled);
      msg = await text(page, '#login-error');
    }
    eq('repeated failed logins end in 429', status, 429);
    check('with Retry-After', /^\d+$/.test(retryAfter || ''), String(retryAfter));
    check('and the page says so and when to try again', /too many/i.test(msg) && /try again/i.test(msg), msg);
    await shot(page, '18-login-rate-limited');
  });

  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

function fileSha256Buf(buf) {
  const f = path.join(env.T, 'sha-tmp.pem');
  fs.writeFileSync(f, buf);
  return fileSha256(f);
}

main().then(() => {
  process.exit(failures ? 1 : 0);
}).catch((e) => {
  notOk('the browser test ran to the end', e && e.stack ? e.stack : e);
  process.exit(1);
});
