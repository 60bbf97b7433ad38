/*
 * The console's Directory page in headless Chromium, against a real atriumd
 * and slapd started by directory.sh (which exports the ports, the data
 * folder and the directory's CA). Prints TAP.
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
for (const k of ['ADMIN_PORT', 'SERVER_PID', 'DATA', 'ART', 'T', 'CA', 'LDAPS_A', 'SUFFIX', 'ALICEPW']) {
  if (!env[k]) {
    console.log(`not ok - directory.test.js runs from directory.sh (${k} is not set)`);
    process.exit(1);
  }
}
const ORIGIN = `https://localhost:${env.ADMIN_PORT}`;
const ADMIN_PASSWORD = env.ATRIUM_ADMIN_PASSWORD || 'admin-secret-1';
const URL = `ldaps://127.0.0.1:${env.LDAPS_A}`;

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

async function shot(page, name) {
  await page.screenshot({ path: path.join(env.ART, `directory-${name}.png`), fullPage: true });
}

async function text(page, sel) {
  return (await page.locator(sel).textContent() || '').trim();
}

async function runTest(page) {
  await page.click('#dir-test-submit');
  await page.waitForSelector('#dir-test-result:not([hidden]), #dir-test-error:not([hidden])');
  return text(page, '#view-directory');
}

async function main() {
  const profile = fs.mkdtempSync(path.join(env.T, 'chromium-directory-'));
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
  const page = await ctx.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));

  await step('login', async () => {
    await page.goto(`${ORIGIN}/#/directory`);
    await page.waitForSelector('#view-login:not([hidden])');
    await page.fill('#login-user', 'admin');
    await page.fill('#login-password', ADMIN_PASSWORD);
    await page.click('#login-submit');
    await page.waitForSelector('#view-directory:not([hidden])');
    ok('after login the Directory page is shown');
    check('it says directory sign-in is off', (await text(page, '#dir-badge')) === 'Off',
      await text(page, '#dir-badge'));
    check('with the default user filter', (await page.inputValue('#dir-directory_user_filter')) === '(uid={user})',
      await page.inputValue('#dir-directory_user_filter'));
    await shot(page, '01-off');
  });

  await step('save', async () => {
    await page.fill('#dir-directory_urls', URL);
    await page.fill('#dir-directory_bind_dn', `cn=atrium,ou=services,${env.SUFFIX}`);
    await page.fill('#dir-directory_bind_password_file', 'directory-bind.pass');
    await page.fill('#dir-directory_user_base', `ou=people,${env.SUFFIX}`);
    await page.fill('#dir-directory_group_base', `ou=groups,${env.SUFFIX}`);
    await page.fill('#dir-directory_group_map', 'atrium-admins:admin');
    await page.click('#dir-save');
    await page.waitForFunction(() => document.querySelector('#dir-badge').textContent === 'On');
    ok('Save applies the settings: the page says On');
    const conf = fs.readFileSync(path.join(env.DATA, 'atrium.conf'), 'utf8');
    check('atrium.conf holds them', conf.includes(`directory_urls = ${URL}`), conf.slice(-400));
  });

  await step('a bad value', async () => {
    await page.fill('#dir-directory_group_map', 'atrium-admins');
    await page.click('#dir-save');
    await page.waitForSelector('#dir-form .field-error[data-for="directory_group_map"]:not([hidden])');
    const msg = await text(page, '#dir-form .field-error[data-for="directory_group_map"]');
    check('a group map without a role is refused next to its field', /has no role/.test(msg), msg);
    await page.fill('#dir-directory_group_map', 'atrium-admins:admin');
  });

  await step('test, untrusted', async () => {
    await page.fill('#dir-test-user', 'alice');
    const t = await runTest(page);
    check('Test explains the untrusted CA with its fix',
      /not trusted: check the chain and trust its root with `atrium admin trust fetch 127\.0\.0\.1:/.test(t), t);
    check('and shows the certificate seen', /CN=dc1\.corp\.test/.test(t) && /dc1\.corp\.test, 127\.0\.0\.1/.test(t), t);
    await shot(page, '02-untrusted');
  });

  await step('test, trusted', async () => {
    const pem = fs.readFileSync(path.join(env.T, 'dirca.pem'), 'utf8');
    const status = await page.evaluate(async (p) => {
      const s = await (await fetch('/admin/api/session')).json();
      const res = await fetch('/admin/api/trust', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
        body: JSON.stringify({ pem: p })
      });
      return res.status;
    }, pem);
    check('the directory CA is trusted through the API (201)', status === 201, status);
    const t = await runTest(page);
    check('Test shows the chain and name verified', /chain and name/.test(t), t);
    check('the TLS version', /TLS1\.[23]/.test(t), t);
    check('the service account bind', /cn=atrium,ou=services/.test(t), t);
    check('alice\'s groups and role', /Groups: atrium-admins/.test(t) && /Role: admin \(from directory_group_map\)/.test(t), t);
    await shot(page, '03-test-ok');
  });

  await step('a directory admin logs in to the console', async () => {
    await page.click('#logout');
    await page.waitForSelector('#view-login:not([hidden])');
    await page.fill('#login-user', 'alice');
    await page.fill('#login-password', env.ALICEPW);
    await page.click('#login-submit');
    await page.waitForSelector('#view-overview:not([hidden]), #view-directory:not([hidden])');
    check('alice (atrium-admins in the directory) is in', /alice/.test(await text(page, '#who-name')),
      await text(page, '#who-name'));
    await shot(page, '04-alice');
  });

  check('no script error on the page', pageErrors.length === 0, pageErrors.join('\n'));
  await ctx.close();
}

main().then(() => process.exit(failures ? 1 : 0), (e) => {
  notOk('the browser test ran', e && e.stack ? e.stack : e);
  process.exit(1);
});
