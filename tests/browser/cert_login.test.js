/*
 * The console's certificate login in headless Chromium (cert_login.sh
 * starts atriumd and makes the certificates). Prints TAP. The client
 * certificate is presented through Playwright's clientCertificates; see
 * cert_login.sh for why not from Chromium's NSS store.
 */
'use strict';

const { chromium } = require('playwright-core');
const path = require('path');

const env = process.env;
for (const k of ['ADMIN_PORT', 'DATA', 'ART', 'T', 'C']) {
  if (!env[k]) {
    console.log(`not ok - cert_login.test.js runs from cert_login.sh (${k} is not set)`);
    process.exit(1);
  }
}
const ORIGIN = `https://localhost:${env.ADMIN_PORT}`;
let failures = 0;

function ok(name) { console.log(`ok - ${name}`); }
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

/* A browser context presenting NAME's certificate (null: none). */
function context(browser, name) {
  /* Without a client certificate Chromium checks the server itself, and
   * this profile does not trust the local CA: the step is about the
   * button, not the server's certificate (console.test.js covers that). */
  const opts = { viewport: { width: 1280, height: 800 }, ignoreHTTPSErrors: !name };
  if (name) {
    opts.clientCertificates = [{ origin: ORIGIN, certPath: path.join(env.C, `${name}.pem`),
      keyPath: path.join(env.C, `${name}.key`) }];
  }
  return browser.newContext(opts);
}

async function main() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });

  await step('no certificate', async () => {
    const ctx = await context(browser, null);
    const page = await ctx.newPage();
    await page.goto(`${ORIGIN}/`);
    await page.waitForSelector('#view-login:not([hidden])');
    await page.waitForLoadState('networkidle');
    check('without a certificate the login page offers no certificate button',
      await page.locator('#login-cert').isHidden());
    await ctx.close();
  });

  await step('alice', async () => {
    const ctx = await context(browser, 'alice');
    const page = await ctx.newPage();
    await page.goto(`${ORIGIN}/`);
    await page.waitForSelector('#login-cert:not([hidden])');
    ok('with a certificate the login page shows "Log in with your certificate"');
    const subject = (await page.locator('#login-cert-subject').textContent()).trim();
    check('and names it', subject === 'Your certificate: CN=alice (user alice)', subject);
    await page.screenshot({ path: path.join(env.ART, 'cert-login-button.png'), fullPage: true });
    await page.click('#login-cert-submit');
    await page.waitForSelector('#view-overview:not([hidden])');
    ok('clicking it logs alice (an admin) in without a password');
    const who = await page.locator('#topbar').textContent();
    check('the top bar names alice', /alice/.test(who), who);
    await page.screenshot({ path: path.join(env.ART, 'cert-login-overview.png'), fullPage: true });
    await ctx.close();
  });

  await step('erin', async () => {
    const ctx = await context(browser, 'erin');
    const page = await ctx.newPage();
    await page.goto(`${ORIGIN}/`);
    await page.waitForSelector('#login-cert:not([hidden])');
    await page.click('#login-cert-submit');
    await page.waitForSelector('#login-error:not([hidden])');
    const msg = (await page.locator('#login-error').textContent()).trim();
    check('erin (not an admin) is refused with the server\'s reason', /'erin' is not an admin/.test(msg), msg);
    check('and stays on the login page', await page.locator('#view-login').isVisible());
    await ctx.close();
  });

  await browser.close();
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log(`not ok - the browser test ran\n#   ${String(e && e.stack ? e.stack : e).split('\n').join('\n#   ')}`);
  process.exit(1);
});
