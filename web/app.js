/*
 * Atrium admin console: one page, hash routes (#/, #/settings,
 * #/certificate, #/users, #/projects, #/projects/NAME, #/trust, #/integrations), talking to the
 * JSON API under /admin/api/ (docs/admin-api.md).
 *
 * The page runs under "Content-Security-Policy: default-src 'self'": no
 * inline scripts or styles, no eval, no external resources; every handler
 * is attached here with addEventListener and the look lives in style.css.
 * Passwords typed into the page are sent once and the fields are emptied;
 * nothing the server knows about a password is ever shown back.
 */
'use strict';

(function () {
  const API = '/admin/api/';
  const MAX_KEYSTORE = 1024 * 1024; /* the server's limit, decoded */

  const state = {
    user: null,      /* the admin logged in */
    csrf: null,      /* sent as X-CSRF-Token with every change */
    settings: null,  /* the last SETTINGS the server sent */
    aliases: null,   /* key entries offered by the server for the chosen file */
    fetched: null,   /* the chain last fetched on Trusted certificates: {host, port, chain} */
    logOf: null,     /* the integration whose delivery log is open */
    logBefore: 0,    /* the oldest delivery shown in it (the next page starts before) */
    editing: null    /* the integration the add form edits, or null when it adds */
  };

  /* ---- small helpers ------------------------------------------------- */

  function $(id) {
    return document.getElementById(id);
  }

  /* A new element with text content and classes; never innerHTML. */
  function el(tag, opts, text) {
    const e = document.createElement(tag);
    if (opts) {
      if (opts.cls) e.className = opts.cls;
      if (opts.href) e.setAttribute('href', opts.href);
      if (opts.label) e.setAttribute('data-label', opts.label);
    }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function show(node, on) {
    node.hidden = !on;
  }

  function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : many);
  }

  function fmtTime(s) {
    if (!s) return '';
    const d = new Date(s);
    if (isNaN(d.getTime())) return s;
    const pad = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  function fmtSize(n) {
    if (typeof n !== 'number') return '';
    if (n < 1024) return plural(n, 'byte', 'bytes');
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = n / 1024, i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return (v < 10 ? v.toFixed(1) : Math.round(v)) + ' ' + units[i];
  }

  /* An error from the API: the server's sentence, its field, the rest of its body. */
  class ApiError extends Error {
    constructor(status, body, retryAfter) {
      super(body && typeof body.error === 'string' ? body.error :
        status === 0 ? 'The server cannot be reached. Check that atriumd is running, then try again.' :
          'The server answered ' + status + '.');
      this.status = status;
      this.field = body && typeof body.field === 'string' ? body.field : null;
      this.body = body || {};
      this.retryAfter = retryAfter;
    }
  }

  /*
   * Calls the API. Changes carry the CSRF token. A 401 while logged in
   * means the session ended: the login page is shown. Errors are thrown
   * as ApiError.
   */
  async function api(method, path, body) {
    const opts = { method: method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    if (method !== 'GET' && state.csrf) opts.headers['X-CSRF-Token'] = state.csrf;
    let res;
    try {
      res = await fetch(API + path, opts);
    } catch (e) {
      throw new ApiError(0, null, null);
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (!res.ok) {
      if (res.status === 401 && state.user && path !== 'login') {
        endSession('Your session has ended. Log in again.');
      }
      throw new ApiError(res.status, data, res.headers.get('Retry-After'));
    }
    return data;
  }

  /* ---- messages ------------------------------------------------------- */

  /* The message line under the top bar; kind is undefined (done), 'bad' or 'warn'. */
  function flash(msg, kind) {
    const f = $('flash');
    f.textContent = msg;
    f.classList.toggle('flash-bad', kind === 'bad');
    f.classList.toggle('flash-warn', kind === 'warn');
    show(f, true);
  }

  function unflash() {
    show($('flash'), false);
  }

  /* Removes every error shown in root (a form or a card). */
  function clearErrors(root) {
    root.querySelectorAll('.field-error, .form-error').forEach((p) => {
      p.textContent = '';
      show(p, false);
    });
    root.querySelectorAll('.invalid').forEach((i) => {
      i.classList.remove('invalid');
      i.removeAttribute('aria-invalid');
    });
  }

  /*
   * Shows msg next to the field named field in root, or in the form's
   * general error line when the form has no such field.
   */
  function fieldError(root, field, msg, general) {
    const p = field ? root.querySelector('.field-error[data-for="' + field + '"]') : null;
    if (!p) {
      const g = general || root.querySelector('.form-error');
      if (g) {
        g.textContent = msg;
        show(g, true);
      }
      return;
    }
    p.textContent = msg;
    show(p, true);
    const input = root.querySelector('[name="' + field + '"]');
    if (input) {
      input.classList.add('invalid');
      input.setAttribute('aria-invalid', 'true');
      if (p.id === '') p.id = root.id + '-' + field + '-error';
      input.setAttribute('aria-describedby', p.id);
    }
  }

  /* The server's sentence with the status (and code) it came with, for pages
   * whose errors are not about one field. */
  function statusMsg(e) {
    if (!e.status) return e.message;
    return e.message + ' (' + e.status + (e.body && e.body.code ? ' ' + e.body.code : '') + ')';
  }

  function formError(node, msg) {
    node.textContent = msg;
    show(node, true);
  }

  async function busy(button, label, fn) {
    const was = button.textContent;
    button.disabled = true;
    button.textContent = label;
    try {
      return await fn();
    } finally {
      button.disabled = false;
      button.textContent = was;
    }
  }

  /* ---- session ----------------------------------------------------------- */

  function setSession(s) {
    state.user = s.user;
    state.csrf = s.csrf;
    $('who-name').textContent = s.user;
    show($('topbar'), true);
  }

  function endSession(msg) {
    state.user = null;
    state.csrf = null;
    state.settings = null;
    show($('topbar'), false);
    showLogin(msg);
  }

  function showLogin(msg) {
    hideViews();
    unflash();
    show($('view-login'), true);
    document.title = 'Log in · Atrium admin console';
    clearErrors($('login-form'));
    $('login-password').value = '';
    if (msg) formError($('login-error'), msg);
    ($('login-user').value ? $('login-password') : $('login-user')).focus();
    showCertLogin();
  }

  /* "Log in with your certificate" when the browser presented one. */
  async function showCertLogin() {
    let c = null;
    try {
      c = await api('GET', 'login/certificate');
    } catch (e) {
      c = null;
    }
    const on = !!(c && c.enabled && c.presented);
    show($('login-cert'), on);
    if (on) {
      $('login-cert-subject').textContent = 'Your certificate: ' + c.subject +
        (c.user ? ' (user ' + c.user + ')' : '');
    }
  }

  /* A login's failure, in words: the server's reason for certificates. */
  function loginFailure(e) {
    if (e.status === 401 && !/^client_cert_/.test(e.body.code || '')) {
      return 'Wrong user name or password.';
    }
    if (e.status === 429) {
      const secs = parseInt(e.retryAfter, 10);
      return 'Too many failed attempts. ' + (secs > 0 ?
        'Try again in ' + (secs >= 90 ? plural(Math.ceil(secs / 60), 'minute', 'minutes') :
          plural(secs, 'second', 'seconds')) + '.' : 'Wait a while and try again.');
    }
    if (e.status === 403 && !e.body.error) return 'Only admins may use the console.';
    return e.message;
  }

  async function onCertLogin() {
    clearErrors($('login-form'));
    try {
      const s = await busy($('login-cert-submit'), 'Logging in…', () => api('POST', 'login', {}));
      setSession(s);
      route();
    } catch (e) {
      formError($('login-error'), loginFailure(e));
    }
  }

  async function onLogin(ev) {
    ev.preventDefault();
    const form = $('login-form');
    clearErrors(form);
    const user = $('login-user').value.trim();
    const password = $('login-password').value;
    $('login-password').value = '';
    if (!user) {
      fieldError(form, 'user', 'Enter your user name.');
      $('login-user').focus();
      return;
    }
    if (!password) {
      fieldError(form, 'password', 'Enter your password.');
      $('login-password').focus();
      return;
    }
    try {
      const s = await busy($('login-submit'), 'Logging in…',
        () => api('POST', 'login', { user: user, password: password }));
      setSession(s);
      route();
    } catch (e) {
      formError($('login-error'), loginFailure(e));
      $('login-password').focus();
    }
  }

  async function onLogout() {
    try {
      await api('POST', 'logout');
    } catch (e) {
      /* The session is gone either way on this side. */
    }
    endSession('You are logged out.');
    history.replaceState(null, '', '#/');
  }

  /* ---- routing --------------------------------------------------------------- */

  const views = ['login', 'overview', 'settings', 'certificate', 'users', 'projects', 'revisions',
    'trust', 'integrations', 'directory'];
  const titles = {
    overview: 'Overview', settings: 'Server Settings', certificate: 'Certificate',
    users: 'Users', projects: 'Projects', revisions: 'Revisions', trust: 'Trusted certificates',
    integrations: 'Integrations', directory: 'Directory'
  };

  function hideViews() {
    views.forEach((v) => show($('view-' + v), false));
  }

  function parseHash() {
    const h = location.hash.replace(/^#\/?/, '');
    const parts = h.split('/');
    let name = parts[0] || 'overview';
    let arg = null;
    if (name === 'projects' && parts.length > 1 && parts[1] !== '') {
      name = 'revisions';
      try {
        arg = decodeURIComponent(parts.slice(1).join('/'));
      } catch (e) {
        arg = parts.slice(1).join('/');
      }
    }
    if (!titles[name]) name = 'overview';
    return { name: name, arg: arg };
  }

  const loaders = {
    overview: loadOverview,
    settings: loadSettings,
    certificate: loadCertificate,
    users: loadUsers,
    projects: loadProjects,
    revisions: loadRevisions,
    trust: loadTrust,
    integrations: loadIntegrations,
    directory: loadDirectory
  };

  async function route() {
    if (!state.user) {
      showLogin();
      return;
    }
    const r = parseHash();
    hideViews();
    unflash();
    /* A secret shown once is not shown again on the way back. */
    hideSecret();
    /* A password typed and left behind is not kept for later. */
    document.querySelectorAll('input[type=password]').forEach((i) => { i.value = ''; });
    show($('view-' + r.name), true);
    document.title = titles[r.name] + ' · Atrium admin console';
    const navName = r.name === 'revisions' ? 'projects' : r.name;
    document.querySelectorAll('#nav a').forEach((a) => {
      const on = a.getAttribute('data-route') === navName;
      a.classList.toggle('active', on);
      if (on) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    try {
      await loaders[r.name](r.arg);
    } catch (e) {
      if (state.user) flash(e.message, 'bad');
    }
  }

  /* ---- overview ------------------------------------------------------------------- */

  function setTile(id, cls) {
    const t = $(id);
    t.classList.remove('state-ok', 'state-warn', 'state-bad', 'state-off');
    t.classList.add(cls);
  }

  function certOrigin(c) {
    if (c.from_local_ca) return 'from the local CA';
    if (c.self_signed) return 'self-signed';
    return 'issued by ' + c.issuer;
  }

  function certState(c) {
    if (typeof c.days_left !== 'number') return 'state-off';
    if (c.days_left <= 0) return 'state-bad';
    if (c.days_left <= 30 || c.self_signed) return 'state-warn';
    return 'state-ok';
  }

  function daysText(c) {
    if (typeof c.days_left !== 'number') return '–';
    if (c.days_left < 0) return 'expired';
    return plural(c.days_left, 'day', 'days') + ' left';
  }

  /* more: sentences from other pages (integrations that stopped delivering). */
  function renderOverview(s, more) {
    const plain = s.plain || {};
    const tls = s.tls || {};
    const cert = s.certificate;
    const warnings = [];

    $('ov-plain-state').textContent = plain.enabled ? 'Open' : 'Closed';
    $('ov-plain-note').textContent = plain.enabled ?
      'port ' + plain.port + ' · unencrypted' : 'port ' + plain.port + ' is not listening';
    setTile('tile-plain', plain.enabled ? 'state-warn' : 'state-ok');
    if (plain.enabled) {
      warnings.push('The plain port ' + plain.port + ' is open: traffic on it, passwords ' +
        'included, is not encrypted. Turn it off on Server Settings once every client uses TLS.');
    }

    $('ov-tls-state').textContent = tls.enabled ? 'On' : 'Off';
    $('ov-tls-note').textContent = tls.enabled ? 'port ' + tls.port :
      'port ' + tls.port + ' is not listening';
    setTile('tile-tls', tls.enabled ? 'state-ok' : 'state-bad');
    if (!tls.enabled) {
      warnings.push('TLS is off: clients cannot connect securely. Turn on Use TLS on Server Settings.');
    }

    if (cert) {
      $('ov-cert-days').textContent = daysText(cert);
      $('ov-cert-note').textContent = certOrigin(cert) + ' · ' + cert.subject;
      setTile('tile-cert', certState(cert));
      if (typeof cert.days_left === 'number' && cert.days_left <= 30) {
        warnings.push(cert.days_left <= 0 ? 'The certificate has expired.' :
          'The certificate expires in ' + plural(cert.days_left, 'day', 'days') + '.');
      }
      (cert.warnings || []).forEach((w) => warnings.push(w));
    } else {
      $('ov-cert-days').textContent = 'None';
      $('ov-cert-note').textContent = 'Certificate is required to enable a secure connection';
      setTile('tile-cert', 'state-bad');
    }

    $('ov-admin-port').textContent = 'Port ' + s.admin_port;
    setTile('tile-admin', 'state-ok');

    const open = (s.listeners || []).map((l) => l.port + (l.tls ? ' (TLS)' : ' (plain)'));
    $('ov-summary').textContent = open.length ?
      'Listening on ' + open.join(', ') + '. Changes on these pages apply at once, without a restart.' :
      'Changes on these pages apply at once, without a restart.';

    (more || []).forEach((w) => warnings.push(w));
    const ul = $('ov-warnings');
    ul.replaceChildren(...warnings.map((w) => el('li', null, w)));
    show($('ov-warnings-card'), warnings.length > 0);

    const tb = $('ov-listeners').tBodies[0];
    tb.replaceChildren(...(s.listeners || []).map((l) => {
      const tr = el('tr');
      tr.append(el('td', null, l.name), el('td', null, l.port),
        el('td', null, l.tls ? 'TLS' : 'none: plain HTTP'));
      return tr;
    }));
  }

  async function loadOverview() {
    $('ov-summary').textContent = 'Loading…';
    state.settings = await api('GET', 'settings');
    /* Integrations that stopped delivering are never silent; an error here hides nothing else. */
    const stopped = await api('GET', 'integrations').then((r) =>
      (r.integrations || []).filter((i) => i.state !== 'active'), () => []);
    renderOverview(state.settings, stopped.map((i) => 'The integration ' + i.name + ' is ' +
      i.state + (i.state_reason ? ' (' + i.state_reason + ')' : '') + ': ' +
      plural(i.pending, 'delivery waits', 'deliveries wait') + '. Resume it on the Integrations page.'));
  }

  /* ---- server settings --------------------------------------------------------------------- */

  function renderSettings(s, keepForm) {
    const tls = s.tls || {};
    const plain = s.plain || {};
    if (!keepForm) {
      $('tls-enabled').checked = !!tls.enabled;
      $('tls-port').value = tls.port || '';
      resetKeystoreInputs();
    }
    const badge = $('tls-badge');
    badge.textContent = tls.enabled ? 'On · port ' + tls.port : 'Off';
    badge.className = 'badge ' + (tls.enabled ? 'state-ok' : 'state-bad');
    const ks = tls.keystore;
    let cur;
    if (ks) {
      cur = 'In use: ' + ks.file + ' (' + ks.format + (ks.alias ? ', alias ' + ks.alias : '') + ').';
    } else if (s.certificate) {
      cur = 'In use: the certificate from Atrium\'s local CA (no keystore uploaded).';
    } else {
      cur = 'No certificate yet.';
    }
    if (s.certificate) {
      cur += ' ' + s.certificate.subject + ', ' + daysText(s.certificate) + '.';
    }
    $('tls-keystore-current').textContent = cur;

    $('plain-enabled').checked = !!plain.enabled;
    $('plain-port').textContent = plain.port;
    const pb = $('plain-badge');
    pb.textContent = plain.enabled ? 'Open · unencrypted' : 'Closed';
    pb.className = 'badge ' + (plain.enabled ? 'state-warn' : 'state-ok');
    show($('plain-warning'), !!plain.enabled);
    updateCertRequired();
  }

  function resetKeystoreInputs() {
    $('tls-keystore').value = '';
    $('tls-password').value = '';
    $('tls-alias').replaceChildren();
    state.aliases = null;
    state.pendingTls = null;
    $('tls-reprotect').checked = false;
    show($('tls-alias-field'), false);
    show($('tls-clear-confirm'), false);
    show($('tls-upload-notice'), false);
    show($('tls-mismatch'), false);
    show($('tls-weak'), false);
  }

  /* Fills tbody with the coverage rows: name, kind, covered, source. */
  function renderCoverage(tbody, list) {
    const sources = {
      request: 'this page\'s address', hostname: 'host name', bind: 'bind address',
      tls_san: 'tls_san', interface: 'address of the machine',
    };
    tbody.replaceChildren(...(list || []).map((c) => {
      const tr = el('tr');
      tr.setAttribute('data-name', c.name);
      tr.append(el('td', { cls: 'mono' }, c.name), el('td', null, c.kind === 'ip' ? 'IP' : 'DNS'),
        el('td', { cls: c.covered ? 'covered' : 'not-covered' }, c.covered ? 'yes' : 'no'),
        el('td', null, sources[c.source] || c.source));
      return tr;
    }));
  }

  /* The reference's hint: Use TLS on, and no certificate in use or chosen. */
  function updateCertRequired() {
    const s = state.settings;
    const none = !s || !s.certificate;
    const chosen = $('tls-keystore').files.length > 0;
    show($('tls-cert-required'), $('tls-enabled').checked && none && !chosen);
  }

  async function loadSettings() {
    clearErrors($('tls-form'));
    clearErrors($('plain-card'));
    state.settings = await api('GET', 'settings');
    renderSettings(state.settings, false);
  }

  /* The file as base64, read with the File API. */
  function readBase64(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onerror = () => reject(new Error('The file could not be read: ' +
        (r.error ? r.error.message : 'unknown error') + '.'));
      r.onload = () => {
        const bytes = new Uint8Array(r.result);
        let bin = '';
        for (let i = 0; i < bytes.length; i += 0x8000) {
          bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
        }
        resolve(btoa(bin));
      };
      r.readAsArrayBuffer(file);
    });
  }

  function parsePort(v) {
    if (!/^[0-9]{1,5}$/.test(String(v).trim())) return null;
    const n = parseInt(v, 10);
    return n >= 1 && n <= 65535 ? n : null;
  }

  async function onTlsSave(ev) {
    ev.preventDefault();
    const form = $('tls-form');
    clearErrors(form);
    unflash();
    show($('tls-clear-confirm'), false);
    const enabled = $('tls-enabled').checked;
    const port = parsePort($('tls-port').value);
    if (port === null) {
      fieldError(form, 'port', 'Enter a port number from 1 to 65535 (10002 is the usual one).');
      $('tls-port').focus();
      return;
    }
    const file = $('tls-keystore').files[0];
    if (enabled && !file && !(state.settings && state.settings.certificate)) {
      updateCertRequired();
      fieldError(form, 'keystore', 'Certificate is required to enable a secure connection: ' +
        'choose a keystore file.');
      return;
    }
    /* The port only when it changes: a port atriumd got from --tls-port cannot be set here. */
    const body = { enabled: enabled };
    if (!state.settings || !state.settings.tls || port !== state.settings.tls.port) body.port = port;
    if (file) {
      if (file.size === 0) {
        fieldError(form, 'keystore', 'This file is empty: choose the keystore file itself.');
        return;
      }
      if (file.size > MAX_KEYSTORE) {
        fieldError(form, 'keystore', 'This file is ' + fmtSize(file.size) + '; a keystore is at ' +
          'most 1 MiB, so this is probably not one. Choose the .jks, .p12 or .pem file.');
        return;
      }
      try {
        body.keystore = await readBase64(file);
      } catch (e) {
        fieldError(form, 'keystore', e.message);
        return;
      }
      body.keystore_name = file.name;
    }
    const password = $('tls-password').value;
    if (password !== '') body.password = password;
    if (!$('tls-alias-field').hidden && $('tls-alias').value) body.alias = $('tls-alias').value;
    if (file && $('tls-reprotect').checked) body.reprotect = true;
    await sendTls(body, !!file, $('tls-save'));
  }

  /*
   * Sends the TLS card's body. An upload the server refuses because its
   * certificate does not name this page's address is kept (with its
   * password) for "Upload it anyway"; one under a well-known password for
   * "Re-protect it now". Either is dropped once used or the form resets.
   */
  async function sendTls(body, upload, button) {
    const form = $('tls-form');
    show($('tls-mismatch'), false);
    show($('tls-weak'), false);
    try {
      const s = await busy(button, 'Saving…', () => api('PUT', 'settings/tls', body));
      const file = upload;
      state.settings = s;
      renderSettings(s, false);
      const c = s.certificate;
      let msg = 'Saved and applied. ';
      if (s.tls && s.tls.enabled) {
        msg += 'TLS port ' + s.tls.port + ' serves ' + (c ? c.subject + ' (' + certOrigin(c) + ', ' +
          daysText(c) + ')' : 'the certificate') + '.';
      } else {
        msg += 'TLS is off.';
      }
      if (file && c && !s.trusted_by_local_ca) {
        msg += ' The console now uses this certificate too' + (c.self_signed ?
          ': it is self-signed, so your browser will warn on the next page load, and open ' +
          'tabs need it trusted.' : '; it is not from the local CA, so browsers that do not ' +
          'trust its CA will warn.');
      }
      if (file && s.reprotected) {
        msg += ' The key is now kept under a password of the server\'s own; the keystore\'s ' +
          'password is no longer used.';
      }
      const warnings = Array.isArray(s.warnings) ? s.warnings : (c && c.warnings) || [];
      if (file && s.weak_password && !s.reprotected) {
        $('tls-weak-text').textContent = 'Warning: this keystore is protected by a well-known ' +
          'password. Anyone with a copy of the file (a backup, for instance) can read its ' +
          'private key. Re-protect it: the server keeps the key under a random password of ' +
          'its own, and the weak one is never used again.';
        state.pendingTls = Object.assign({}, body, { reprotect: true });
        show($('tls-weak'), true);
      } else {
        state.pendingTls = null;
      }
      body.password = null;
      if (warnings.length) {
        flash(msg + ' Warning: ' + warnings.join(' '), 'warn');
      } else {
        flash(msg);
      }
    } catch (e) {
      if (e.body && e.body.code === 'cert_mismatch' && Array.isArray(e.body.coverage)) {
        $('tls-mismatch-text').textContent = e.message + ' Uploading it anyway locks out ' +
          'whoever connects by the names marked "no".';
        renderCoverage($('tls-mismatch-coverage').tBodies[0], e.body.coverage);
        $('tls-mismatch-hint').textContent = e.body.keytool_hint || '';
        state.pendingTls = Object.assign({}, body, { force: true });
        show($('tls-mismatch'), true);
      } else {
        state.pendingTls = null;
      }
      body.password = null;
      if (e.field === 'alias' && e.body && Array.isArray(e.body.aliases) && e.body.aliases.length) {
        offerAliases(e.body.aliases);
      }
      if (e.field === 'password') {
        $('tls-password').value = '';
        $('tls-password').focus();
      }
      if (e.field) {
        fieldError(form, e.field, e.message, $('tls-error'));
      } else {
        formError($('tls-error'), e.message);
      }
      if (e.status !== 401) {
        flash('Nothing was changed: the server keeps the settings and certificate it had.', 'bad');
      }
    }
  }

  /* "Upload it anyway" and "Re-protect it now": the kept upload, again. */
  async function resendTls(button) {
    const body = state.pendingTls;
    state.pendingTls = null;
    if (!body) return;
    clearErrors($('tls-form'));
    unflash();
    await sendTls(body, true, button);
  }

  function offerAliases(aliases) {
    const sel = $('tls-alias');
    const keep = sel.value;
    sel.replaceChildren(el('option', null, 'Choose a key entry…'));
    sel.firstChild.value = '';
    aliases.forEach((a) => {
      const o = el('option', null, a);
      o.value = a;
      sel.append(o);
    });
    if (aliases.indexOf(keep) >= 0) sel.value = keep;
    state.aliases = aliases;
    show($('tls-alias-field'), true);
  }

  function onTlsClear() {
    const form = $('tls-form');
    clearErrors(form);
    unflash();
    const s = state.settings;
    resetKeystoreInputs();
    if (s) {
      $('tls-enabled').checked = !!s.tls.enabled;
      $('tls-port').value = s.tls.port;
    }
    updateCertRequired();
    if (s && s.tls && s.tls.keystore) {
      show($('tls-clear-confirm'), true);
      $('tls-clear-yes').focus();
    } else {
      flash('The form is cleared. The local CA\'s certificate is in use; there is no ' +
        'uploaded keystore to remove.');
    }
  }

  async function onTlsClearConfirm() {
    const form = $('tls-form');
    clearErrors(form);
    try {
      const s = await busy($('tls-clear-yes'), 'Removing…',
        () => api('POST', 'settings/tls/clear'));
      state.settings = s;
      renderSettings(s, false);
      flash('The uploaded keystore is removed. ' + (s.certificate ? 'The server now serves ' +
        s.certificate.subject + ' (' + certOrigin(s.certificate) + ').' : ''));
    } catch (e) {
      show($('tls-clear-confirm'), false);
      formError($('tls-error'), e.message);
    }
  }

  async function onPlainToggle() {
    const box = $('plain-enabled');
    const want = box.checked;
    const card = $('plain-card');
    clearErrors(card);
    unflash();
    box.disabled = true;
    try {
      const s = await api('PUT', 'settings/plain', { enabled: want });
      state.settings = s;
      renderSettings(s, true);
      flash(s.plain.enabled ? 'The plain port ' + s.plain.port + ' is open again. It is not ' +
        'encrypted.' : 'The plain port ' + s.plain.port + ' is closed. Only TLS connections ' +
        'are accepted now.');
    } catch (e) {
      box.checked = !want;
      formError($('plain-error'), e.message);
    } finally {
      box.disabled = false;
    }
  }

  /* ---- certificate ------------------------------------------------------------- */

  function renderCertificate(c) {
    const badge = $('cert-badge');
    if (!c) {
      ['subject', 'issuer', 'sans', 'validity', 'sha256', 'origin', 'source'].forEach((k) => {
        $('cert-' + k).textContent = '';
      });
      badge.textContent = 'None';
      badge.className = 'badge state-bad';
      $('cert-trust-why').textContent = 'Certificate is required to enable a secure connection.';
      return;
    }
    $('cert-subject').textContent = c.subject;
    $('cert-issuer').textContent = c.issuer;
    $('cert-sans').textContent = (c.sans || []).join(', ') || 'none';
    const days = typeof c.days_left === 'number' ? c.days_left : null;
    $('cert-validity').textContent = fmtTime(c.not_before) + ' to ' + fmtTime(c.not_after) +
      (days === null ? '' : days < 0 ? ' · expired ' + plural(-days, 'day', 'days') + ' ago' :
        ' · ' + plural(days, 'day', 'days') + ' left');
    $('cert-sha256').textContent = c.sha256;
    $('cert-source').textContent = c.source || '';
    let origin, why;
    if (c.from_local_ca) {
      origin = 'Atrium\'s local CA';
      badge.textContent = 'Local CA';
      badge.className = 'badge state-ok';
      $('cert-trust-title').textContent = 'Why browsers warn, and the two remedies';
      why = 'This certificate was issued by Atrium\'s local CA (' + c.issuer + '), a ' +
        'certificate authority this server made for itself. Browsers and clients have never ' +
        'heard of it, so until they trust it they warn ("Your connection is not private", ' +
        'NET::ERR_CERT_AUTHORITY_INVALID). The connection is encrypted either way; the warning ' +
        'is about who vouches for the server.';
    } else if (c.self_signed) {
      origin = 'itself (self-signed)';
      badge.textContent = 'Self-signed';
      badge.className = 'badge state-warn';
      $('cert-trust-title').textContent = 'Why browsers warn, and the two remedies';
      why = 'This certificate is self-signed: it vouches for itself, so no browser can check ' +
        'it and every browser warns (NET::ERR_CERT_AUTHORITY_INVALID) each time. Trusting the ' +
        'local CA does not help with this one; use Clear on Server Settings to go back to the ' +
        'local CA\'s certificate first.';
    } else {
      origin = c.issuer;
      badge.textContent = 'CA-issued';
      badge.className = 'badge state-ok';
      $('cert-trust-title').textContent = 'Browsers and clients';
      why = 'Issued by ' + c.issuer + '. Browsers and clients that trust this CA connect ' +
        'without a warning; nothing more to do for them.';
    }
    $('cert-origin').textContent = origin;
    $('cert-trust-why').textContent = why;
    show($('cert-remedies'), c.from_local_ca || c.self_signed);
    const fp = $('cert-ca-fp');
    fp.replaceChildren();
    if (c.ca_sha256) {
      fp.append('The local CA\'s SHA-256 fingerprint is ', el('span', { cls: 'mono' }, c.ca_sha256),
        ': compare it with what your system shows before you trust it.');
    }
    const w = $('cert-warnings');
    w.replaceChildren(...(c.warnings || []).map((t) => el('li', null, t)));
    show(w, (c.warnings || []).length > 0);
    renderCoverage($('cert-coverage').tBodies[0], c.coverage);
    $('cert-keytool').textContent = c.keytool_hint || '';
    show($('cert-coverage-card'), Array.isArray(c.coverage));
  }

  async function loadCertificate() {
    const c = await api('GET', 'certificate');
    renderCertificate(c);
  }

  /* ---- users ---------------------------------------------------------------------- */

  function closeSubrows() {
    document.querySelectorAll('#users-table .subrow').forEach((r) => r.remove());
  }

  function userRow(u) {
    const tr = $('tpl-user-row').content.firstElementChild.cloneNode(true);
    tr.setAttribute('data-user', u.name);
    const name = tr.querySelector('.u-name');
    name.textContent = u.name;
    if (u.name === state.user) name.append(el('span', { cls: 'you' }, '(you)'));
    const role = tr.querySelector('.u-role');
    role.value = u.role;
    role.setAttribute('aria-label', 'Role of ' + u.name);
    role.addEventListener('change', () => changeRole(u, role));
    tr.querySelector('.u-created').textContent = fmtTime(u.created);
    tr.querySelector('.u-reset').addEventListener('click', () => openReset(tr, u));
    tr.querySelector('.u-delete').addEventListener('click', () => openDelete(tr, u));
    return tr;
  }

  async function changeRole(u, sel) {
    const want = sel.value;
    clearErrors($('view-users'));
    unflash();
    sel.disabled = true;
    try {
      await api('PUT', 'users/' + encodeURIComponent(u.name) + '/role', { role: want });
      u.role = want;
      flash(u.name + ' is now ' + (want === 'admin' ? 'an admin.' : 'a user.'));
    } catch (e) {
      sel.value = u.role;
      formError($('users-error'), e.message);
    } finally {
      sel.disabled = false;
    }
  }

  function openReset(tr, u) {
    closeSubrows();
    unflash();
    const sub = $('tpl-user-reset').content.firstElementChild.cloneNode(true);
    const input = sub.querySelector('.u-reset-password');
    const id = 'reset-' + Math.random().toString(36).slice(2);
    input.id = id;
    sub.querySelector('.u-reset-label').setAttribute('for', id);
    sub.querySelector('.u-reset-label').textContent = 'New password for ' + u.name;
    sub.querySelector('.u-cancel').addEventListener('click', () => sub.remove());
    sub.querySelector('form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const err = sub.querySelector('.u-reset-error');
      show(err, false);
      const pw = input.value;
      input.value = '';
      if (pw.length < 8) {
        err.textContent = 'A password has at least 8 characters.';
        show(err, true);
        input.focus();
        return;
      }
      try {
        await api('PUT', 'users/' + encodeURIComponent(u.name) + '/password', { password: pw });
        sub.remove();
        flash('The password of ' + u.name + ' is changed. Tell them the new one in person or ' +
          'by another channel.');
      } catch (e) {
        err.textContent = e.message;
        show(err, true);
        input.focus();
      }
    });
    tr.after(sub);
    input.focus();
  }

  function openDelete(tr, u) {
    closeSubrows();
    unflash();
    const sub = $('tpl-user-delete').content.firstElementChild.cloneNode(true);
    sub.querySelector('.u-delete-text').textContent = 'Delete ' + u.name + '? Their sessions ' +
      'end at once; projects and revisions they made stay.';
    sub.querySelector('.u-cancel').addEventListener('click', () => sub.remove());
    sub.querySelector('.u-delete-yes').addEventListener('click', async () => {
      const err = sub.querySelector('.u-delete-error');
      show(err, false);
      try {
        await api('DELETE', 'users/' + encodeURIComponent(u.name));
        sub.remove();
        tr.remove();
        flash('Deleted user ' + u.name + '.');
      } catch (e) {
        err.textContent = e.message;
        show(err, true);
      }
    });
    tr.after(sub);
    sub.querySelector('.u-delete-yes').focus();
  }

  async function loadUsers() {
    clearErrors($('view-users'));
    const r = await api('GET', 'users');
    const users = (r.users || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    $('users-table').tBodies[0].replaceChildren(...users.map(userRow));
  }

  async function onUserAdd(ev) {
    ev.preventDefault();
    const form = $('user-add-form');
    clearErrors(form);
    unflash();
    const name = $('user-add-name').value.trim();
    const password = $('user-add-password').value;
    const role = $('user-add-role').value;
    $('user-add-password').value = '';
    if (!name) {
      fieldError(form, 'name', 'Enter a name for the new user.');
      $('user-add-name').focus();
      return;
    }
    if (password.length < 8) {
      fieldError(form, 'password', 'A password has at least 8 characters.');
      $('user-add-password').focus();
      return;
    }
    try {
      await busy($('user-add-submit'), 'Adding…',
        () => api('POST', 'users', { name: name, password: password, role: role }));
      $('user-add-name').value = '';
      $('user-add-role').value = 'user';
      await loadUsers();
      flash('Added ' + name + ' (' + role + ').');
    } catch (e) {
      if (e.field) fieldError(form, e.field, e.message);
      else formError($('user-add-error'), e.message);
    }
  }

  /* ---- projects ------------------------------------------------------------------- */

  async function loadProjects() {
    clearErrors($('view-projects'));
    const r = await api('GET', 'projects');
    const list = (r.projects || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    $('projects-table').tBodies[0].replaceChildren(...list.map((p) => {
      const tr = el('tr');
      tr.setAttribute('data-project', p.name);
      const td = el('td', { label: 'Project' });
      td.append(el('a', { href: '#/projects/' + encodeURIComponent(p.name) }, p.name));
      const last = p.last || null;
      tr.append(td,
        el('td', { cls: 'num', label: 'Last revision' }, last ? last.number : (p.head || '–')),
        el('td', { label: 'Author' }, last ? last.author : ''),
        el('td', { label: 'Time' }, last ? fmtTime(last.time) : ''),
        el('td', { cls: 'num', label: 'Size' }, last ? fmtSize(last.size) : ''));
      return tr;
    }));
    show($('projects-empty'), list.length === 0);
  }

  async function loadRevisions(name) {
    clearErrors($('view-revisions'));
    $('rev-title').textContent = name;
    $('revisions-table').tBodies[0].replaceChildren();
    const r = await api('GET', 'projects/' + encodeURIComponent(name) + '/revisions');
    const list = (r.revisions || []).slice().sort((a, b) => b.number - a.number);
    $('revisions-table').tBodies[0].replaceChildren(...list.map((v) => {
      const tr = el('tr');
      tr.append(el('td', { cls: 'num', label: 'Revision' }, v.number),
        el('td', { label: 'Author' }, v.author),
        el('td', { label: 'Time' }, fmtTime(v.time)),
        el('td', { cls: 'num', label: 'Size' }, fmtSize(v.size)),
        el('td', { label: 'Message' }, v.message));
      return tr;
    }));
    show($('revisions-empty'), list.length === 0);
  }

  /* ---- trusted certificates ------------------------------------------------------- */

  /* "2036-01-01" from an RFC 3339 time; the time itself when it does not parse. */
  function fmtDay(s) {
    const t = fmtTime(s);
    return t.length > 10 ? t.slice(0, 10) : t;
  }

  /* A table row of certificate cells (subject, issuer, valid until, SHA-256, CA). */
  function certCells(tr, c) {
    tr.append(el('td', { label: 'Subject', cls: 't-subject' }, c.subject),
      el('td', { label: 'Issuer', cls: 't-issuer' }, c.issuer),
      el('td', { label: 'Valid until', cls: 't-until' }, fmtDay(c.not_after)),
      el('td', { label: 'SHA-256', cls: 'mono fp t-sha256' }, c.sha256),
      el('td', { label: 'CA', cls: 't-ca' }, c.ca ? 'yes' : 'no'));
  }

  function closeTrustSubrows() {
    document.querySelectorAll('#trust-table .subrow').forEach((r) => r.remove());
  }

  function trustRow(c) {
    const tr = el('tr');
    tr.setAttribute('data-alias', c.alias);
    tr.append(el('td', { label: 'Alias', cls: 't-alias' }, c.alias + (c.key_entry ? ' (key entry)' : '')));
    certCells(tr, c);
    const td = el('td', { cls: 't-actions' });
    const rm = el('button', { cls: 'btn btn-small btn-danger t-remove' }, 'Remove');
    rm.type = 'button';
    rm.setAttribute('aria-label', 'Remove ' + c.alias);
    rm.addEventListener('click', () => openTrustDelete(tr, c));
    td.append(rm);
    tr.append(td);
    return tr;
  }

  function openTrustDelete(tr, c) {
    closeTrustSubrows();
    unflash();
    const sub = $('tpl-trust-delete').content.firstElementChild.cloneNode(true);
    sub.querySelector('.t-delete-text').textContent = 'Stop trusting ' + c.alias + ' (' +
      c.subject + ')? Connections to servers whose chain ends there fail from the next one on.';
    sub.querySelector('.t-cancel').addEventListener('click', () => sub.remove());
    sub.querySelector('.t-delete-yes').addEventListener('click', async () => {
      const err = sub.querySelector('.t-delete-error');
      show(err, false);
      try {
        await api('DELETE', 'trust/' + encodeURIComponent(c.alias));
        await loadTrust();
        flash('Removed ' + c.alias + ': ' + c.subject + ' is no longer trusted.');
      } catch (e) {
        err.textContent = statusMsg(e);
        show(err, true);
      }
    });
    tr.after(sub);
    sub.querySelector('.t-delete-yes').focus();
  }

  function renderTrust(t) {
    const entries = t.entries || [];
    $('trust-file').textContent = t.file || 'tls/truststore.p12';
    const badge = $('trust-badge');
    badge.textContent = t.problem ? 'Damaged file' : plural(entries.length, 'certificate', 'certificates');
    badge.className = 'badge ' + (t.problem ? 'state-bad' : 'state-ok');
    $('trust-problem-text').textContent = t.problem ?
      t.problem.error + (t.problem.code ? ' (' + t.problem.code + ')' : '') : '';
    show($('trust-problem'), !!t.problem);
    $('trust-table').tBodies[0].replaceChildren(...entries.map(trustRow));
    show($('trust-empty'), entries.length === 0);
    $('trust-system').textContent = t.system_roots ?
      'The system\'s root certificates are trusted too (outbound_system_roots = on).' :
      'Only these certificates are trusted (outbound_system_roots = off).';
  }

  async function loadTrust() {
    clearErrors($('view-trust'));
    renderTrust(await api('GET', 'trust'));
  }

  async function onTrustImport(ev) {
    ev.preventDefault();
    const form = $('trust-import-form');
    clearErrors(form);
    unflash();
    const file = $('trust-import-file').files[0];
    const pasted = $('trust-import-pem').value.trim();
    const alias = $('trust-import-alias').value.trim();
    const body = {};
    if (file && pasted) {
      fieldError(form, 'pem', 'Choose a file or paste a certificate, not both.');
      return;
    }
    if (file) {
      if (file.size === 0 || file.size > 64 * 1024) {
        formError($('trust-import-error'), 'This file is ' + fmtSize(file.size) + '; one ' +
          'certificate is between a few hundred bytes and 64 KiB.');
        return;
      }
      try {
        const textForm = await file.text();
        if (textForm.indexOf('-----BEGIN') >= 0) body.pem = textForm;
        else body.der_b64 = await readBase64(file);
      } catch (e) {
        formError($('trust-import-error'), e.message);
        return;
      }
    } else if (pasted) {
      body.pem = pasted + '\n';
    } else {
      fieldError(form, 'pem', 'Choose a certificate file or paste one (-----BEGIN CERTIFICATE-----).');
      return;
    }
    if (alias) body.alias = alias;
    try {
      const c = await busy($('trust-import-submit'), 'Importing…', () => api('POST', 'trust', body));
      $('trust-import-file').value = '';
      $('trust-import-pem').value = '';
      $('trust-import-alias').value = '';
      await loadTrust();
      flash('Trusted ' + c.alias + ': ' + c.subject + (c.ca ? ' (a CA)' : ' (not a CA)') +
        ', SHA-256 ' + c.sha256 + '.');
    } catch (e) {
      if (e.field === 'alias') fieldError(form, 'alias', statusMsg(e));
      else formError($('trust-import-error'), statusMsg(e));
    }
  }

  const roleNames = {
    leaf: 'leaf', intermediate: 'intermediate', root: 'root', top: 'top (root not sent)',
    'self-signed': 'self-signed'
  };

  /* Shows a FETCH answer's chain, the last (the root or the top) chosen to trust. */
  function renderChain(f) {
    const chain = f.chain || [];
    state.fetched = { host: f.host, port: f.port, chain: chain };
    $('trust-chain-summary').textContent = f.host + ':' + f.port + ' presented ' +
      plural(typeof f.sent === 'number' ? f.sent : chain.length, 'certificate', 'certificates') +
      '. ' + (f.verified ? 'The chain is trusted already.' :
        'The chain is not trusted by this server yet.');
    const name = 'trust-pick';
    $('trust-chain-table').tBodies[0].replaceChildren(...chain.map((c, i) => {
      const tr = el('tr');
      tr.setAttribute('data-role', c.role);
      tr.setAttribute('data-sha256', c.sha256);
      const td = el('td', { label: 'Role', cls: 'role' });
      const pick = el('input');
      pick.type = 'radio';
      pick.name = name;
      pick.value = String(i);
      pick.checked = i === chain.length - 1;
      pick.setAttribute('aria-label', 'Trust ' + c.subject);
      pick.addEventListener('change', updateTrustButton);
      const lab = el('label');
      lab.append(pick, ' ' + (roleNames[c.role] || c.role));
      td.append(lab);
      tr.append(td);
      certCells(tr, c);
      return tr;
    }));
    show($('trust-chain'), chain.length > 0);
    updateTrustButton();
  }

  function pickedCert() {
    const p = document.querySelector('#trust-chain-table input[type=radio]:checked');
    return p && state.fetched ? state.fetched.chain[parseInt(p.value, 10)] : null;
  }

  function updateTrustButton() {
    const c = pickedCert();
    const root = c && (c.role === 'root' || c.role === 'self-signed' || c.role === 'top');
    $('trust-fetch-trust').textContent = root ? 'Trust this root' : 'Trust this certificate';
  }

  function fetchTarget(form) {
    const host = $('trust-fetch-host').value.trim().replace(/^\[(.*)\]$/, '$1');
    const port = parsePort($('trust-fetch-port').value || '443');
    if (!host) {
      fieldError(form, 'host', 'Enter the name or address of the server to fetch from.');
      $('trust-fetch-host').focus();
      return null;
    }
    if (port === null) {
      fieldError(form, 'port', 'Enter a port number from 1 to 65535 (443 for HTTPS).');
      $('trust-fetch-port').focus();
      return null;
    }
    return { host: host, port: port };
  }

  async function onTrustFetch(ev) {
    ev.preventDefault();
    const form = $('trust-fetch-form');
    clearErrors(form);
    unflash();
    show($('trust-chain'), false);
    state.fetched = null;
    const t = fetchTarget(form);
    if (!t) return;
    try {
      const f = await busy($('trust-fetch-submit'), 'Fetching…', () => api('POST', 'trust/fetch', t));
      renderChain(f);
    } catch (e) {
      formError($('trust-fetch-error'), statusMsg(e));
    }
  }

  async function onTrustTrust() {
    const form = $('trust-fetch-form');
    clearErrors(form);
    unflash();
    const c = pickedCert();
    if (!c || !state.fetched) return;
    const body = { host: state.fetched.host, port: state.fetched.port, trust: c.sha256 };
    const alias = $('trust-fetch-alias').value.trim();
    if (alias) body.alias = alias;
    try {
      const f = await busy($('trust-fetch-trust'), 'Trusting…', () => api('POST', 'trust/fetch', body));
      const added = f.trusted || {};
      show($('trust-chain'), false);
      state.fetched = null;
      $('trust-fetch-alias').value = '';
      await loadTrust();
      flash('Trusted ' + added.alias + ': ' + added.subject + ' of ' + body.host + ':' + body.port +
        ', SHA-256 ' + added.sha256 + '.');
    } catch (e) {
      /* The server fetched again and the chain changed: show what is there now. */
      if (e.body && Array.isArray(e.body.chain)) renderChain(e.body);
      formError($('trust-fetch-error'), statusMsg(e));
    }
  }

  /* ---- integrations ------------------------------------------------------------------ */

  /* The kinds an integration may ask for (src/server/event.h), in its order. */
  const EVENT_KINDS = ['revision.committed', 'project.created', 'project.deleted', 'lock.taken',
    'lock.released', 'branch.created', 'branch.deleted', 'tag.created', 'tag.deleted',
    'user.created', 'user.deleted', 'certificate.renewed', 'certificate.expiring'];
  const stateBadges = { active: 'state-ok', paused: 'state-warn', disabled: 'state-bad' };

  function ipath(name, tail) {
    return 'integrations/' + encodeURIComponent(name) + (tail || '');
  }

  function closeIntSubrows() {
    document.querySelectorAll('#int-table .subrow').forEach((r) => r.remove());
  }

  function smallButton(label, cls, aria, fn) {
    const b = el('button', { cls: 'btn btn-small ' + cls }, label);
    b.type = 'button';
    b.setAttribute('aria-label', aria);
    b.addEventListener('click', fn);
    return b;
  }

  /* "2026-12-07 23:05 delivered (200)" from the newest attempt, or a dash. */
  function lastText(a) {
    if (!a) return '—';
    return fmtTime(a.time) + ' ' + a.outcome + (a.status !== null && a.status !== undefined ?
      ' (' + a.status + ')' : '');
  }

  function intRow(it, last) {
    const tr = el('tr');
    tr.setAttribute('data-name', it.name);
    tr.setAttribute('data-state', it.state);
    tr.append(el('td', { label: 'Name', cls: 'i-name' }, it.name));
    const st = el('td', { label: 'State', cls: 'i-state' });
    st.append(el('span', { cls: 'badge ' + (stateBadges[it.state] || '') }, it.state));
    if (it.state_reason) st.append(el('span', { cls: 'i-reason' }, it.state_reason));
    tr.append(st,
      el('td', { label: 'Pending', cls: 'num i-pending' }, it.pending),
      el('td', { label: 'Last delivery', cls: 'i-last' + (last ? ' outcome-' + last.outcome : '') },
        lastText(last)),
      el('td', { label: 'URL', cls: 'mono i-url' }, it.url));
    const td = el('td', { cls: 'i-actions' });
    td.append(smallButton('Log', 'i-log-open', 'Delivery log of ' + it.name, () => openLog(it.name)),
      smallButton('Edit', 'i-edit', 'Edit ' + it.name, () => openIntEdit(it)),
      smallButton('Test', 'i-test', 'Send a test event to ' + it.name, (ev) => onIntTest(ev.currentTarget, it)),
      it.state === 'active' ?
        smallButton('Pause', 'i-pause', 'Pause ' + it.name, (ev) => onIntState(ev.currentTarget, it, 'pause')) :
        smallButton('Resume', 'i-resume', 'Resume ' + it.name, (ev) => onIntState(ev.currentTarget, it, 'resume')),
      smallButton('Rotate secret', 'i-rotate', 'Rotate the secret of ' + it.name, () => openIntConfirm(tr, it, 'rotate')),
      smallButton('Remove', 'btn-danger i-remove', 'Remove ' + it.name, () => openIntConfirm(tr, it, 'remove')));
    tr.append(td);
    return tr;
  }

  async function loadIntegrations() {
    clearErrors($('view-integrations'));
    const list = (await api('GET', 'integrations')).integrations || [];
    /* The newest attempt of each, for "Last delivery"; one missing is only a dash. */
    const lasts = await Promise.all(list.map((it) => api('GET', ipath(it.name, '/log?limit=1'))
      .then((l) => (l.attempts || [])[0] || null, () => null)));
    $('int-table').tBodies[0].replaceChildren(...list.map((it, i) => intRow(it, lasts[i])));
    show($('int-empty'), list.length === 0);
    const stopped = list.filter((it) => it.state !== 'active').length;
    const badge = $('int-badge');
    badge.textContent = plural(list.length, 'integration', 'integrations') +
      (stopped ? ', ' + stopped + ' not delivering' : '');
    badge.className = 'badge ' + (stopped ? 'state-warn' : 'state-ok');
    if (state.logOf && !list.some((it) => it.name === state.logOf)) closeLog();
  }

  /* Shows a secret once: the box is emptied by Done and by leaving the page. */
  function showSecret(text, secret) {
    $('int-secret-text').textContent = text;
    $('int-secret-value').value = secret;
    show($('int-secret'), true);
    /* The box is the page's first card: the top of the page shows it. */
    window.scrollTo(0, 0);
    $('int-secret-value').focus({ preventScroll: true });
    $('int-secret-value').select();
  }

  function hideSecret() {
    $('int-secret-value').value = '';
    show($('int-secret'), false);
  }

  async function onSecretCopy() {
    const v = $('int-secret-value');
    v.focus();
    v.select();
    try {
      await navigator.clipboard.writeText(v.value);
      $('int-secret-copy').textContent = 'Copied';
    } catch (e) {
      /* Without the clipboard API: the text is selected for Ctrl+C. */
      $('int-secret-copy').textContent = 'Press Ctrl+C';
    }
    setTimeout(() => { $('int-secret-copy').textContent = 'Copy'; }, 2000);
  }

  async function onIntTest(button, it) {
    unflash();
    try {
      const r = await busy(button, 'Sending…', () => api('POST', ipath(it.name, '/test')));
      flash('Queued a test event for ' + it.name + ' as delivery ' + r.delivery +
        '; its outcome appears in the log.');
      await openLog(it.name);
      /* Look again for a while: the attempt comes after what is waiting. */
      for (let i = 0; i < 60 && state.logOf === it.name &&
        !document.querySelector('#int-log-table tr[data-delivery="' + r.delivery + '"]'); i++) {
        await new Promise((res) => setTimeout(res, 500));
        if (state.logOf === it.name) await openLog(it.name);
      }
      if (state.logOf === it.name) await loadIntegrations();
    } catch (e) {
      flash(statusMsg(e), 'bad');
    }
  }

  async function onIntState(button, it, what) {
    unflash();
    try {
      const r = await busy(button, what === 'pause' ? 'Pausing…' : 'Resuming…',
        () => api('POST', ipath(it.name, '/' + what)));
      await loadIntegrations();
      const n = r.integration ? r.integration.pending : 0;
      flash(it.name + (what === 'pause' ? ' is paused: events are kept for it, ' :
        ' delivers again: ') + plural(n, 'delivery', 'deliveries') + ' waiting.');
    } catch (e) {
      flash(statusMsg(e), 'bad');
    }
  }

  /* The confirmation under a row: remove, or rotate with the overlap in hours. */
  function openIntConfirm(tr, it, what) {
    closeIntSubrows();
    unflash();
    const sub = $('tpl-int-confirm').content.firstElementChild.cloneNode(true);
    const yes = sub.querySelector('.i-confirm-yes');
    const rotate = what === 'rotate';
    sub.querySelector('.i-confirm-text').textContent = rotate ?
      'Make a new signing secret for ' + it.name + '?' :
      'Remove ' + it.name + '? Its ' + plural(it.pending, 'delivery', 'deliveries') +
        ' waiting and its log go with it.';
    show(sub.querySelector('.i-overlap'), rotate);
    yes.textContent = rotate ? 'Rotate' : 'Remove';
    sub.querySelector('.i-cancel').addEventListener('click', () => sub.remove());
    yes.addEventListener('click', async () => {
      const err = sub.querySelector('.i-confirm-error');
      show(err, false);
      try {
        if (rotate) {
          const h = parseInt(sub.querySelector('.i-overlap-hours').value, 10);
          const r = await api('POST', ipath(it.name, '/rotate-secret'),
            { overlap_hours: isNaN(h) ? 24 : h });
          sub.remove();
          showSecret('The new signing secret of ' + it.name + '. ' + (r.old_secret_valid_until ?
            'Until ' + fmtTime(r.old_secret_valid_until) + ' deliveries carry both signatures, ' +
            'the old secret\'s and this one\'s.' : 'The old one signs no more.'), r.secret);
        } else {
          await api('DELETE', ipath(it.name));
          await loadIntegrations();
          flash('Removed ' + it.name + '.');
        }
      } catch (e) {
        err.textContent = statusMsg(e);
        show(err, true);
      }
    });
    tr.after(sub);
    yes.focus();
  }

  /* ---- the delivery log ---- */

  function closeLog() {
    state.logOf = null;
    show($('int-log'), false);
  }

  /* The outcome, and under a retry when the next attempt is due. */
  function outcomeCell(a) {
    const td = el('td', { label: 'Outcome', cls: 'l-outcome outcome-' + a.outcome }, a.outcome);
    if (a.next_attempt) td.append(el('span', { cls: 'i-reason l-next' }, 'next ' + fmtTime(a.next_attempt)));
    return td;
  }

  function logRow(name, a) {
    const tr = el('tr');
    tr.setAttribute('data-delivery', a.delivery);
    tr.append(el('td', { label: 'Delivery', cls: 'num l-delivery' }, a.delivery),
      el('td', { label: 'Seq', cls: 'num l-seq' }, a.seq),
      el('td', { label: 'Event', cls: 'mono l-event' }, a.event),
      el('td', { label: 'Time', cls: 'l-time' }, fmtTime(a.time)),
      el('td', { label: 'Answer', cls: 'num l-status' }, (a.status === null ? '—' : a.status) +
        (typeof a.duration_ms === 'number' ? ', ' + a.duration_ms + ' ms' : '')),
      outcomeCell(a),
      el('td', { label: 'Error', cls: 'l-error' }, a.error || ''));
    const td = el('td', { cls: 'i-actions' });
    td.append(smallButton('Redeliver', 'l-redeliver', 'Redeliver delivery ' + a.delivery,
      (ev) => onRedeliver(ev.currentTarget, name, a.delivery)));
    tr.append(td);
    return tr;
  }

  /* Shows NAME's log, newest first; more adds the page before the last row shown. */
  async function openLog(name, more) {
    const err = $('int-log-error');
    show(err, false);
    const tbody = $('int-log-table').tBodies[0];
    if (!more) {
      state.logOf = name;
      state.logBefore = 0;
      $('int-log-title').textContent = 'Delivery log of ' + name;
      tbody.replaceChildren();
      show($('int-log'), true);
    }
    const limit = 50;
    try {
      const q = '/log?limit=' + limit + (state.logBefore ? '&before=' + state.logBefore : '');
      const attempts = (await api('GET', ipath(name, q))).attempts || [];
      if (state.logOf !== name) return;
      tbody.append(...attempts.map((a) => logRow(name, a)));
      if (attempts.length) state.logBefore = attempts[attempts.length - 1].delivery;
      show($('int-log-empty'), tbody.rows.length === 0);
      show($('int-log-older'), attempts.length === limit);
    } catch (e) {
      formError(err, statusMsg(e));
    }
  }

  async function onRedeliver(button, name, id) {
    unflash();
    try {
      const r = await busy(button, 'Queuing…',
        () => api('POST', ipath(name, '/deliveries/' + encodeURIComponent(id) + '/redeliver')));
      flash('Queued delivery ' + id + ' of ' + name + ' again, as delivery ' + r.delivery + '.');
      await Promise.all([loadIntegrations(), openLog(name)]);
    } catch (e) {
      formError($('int-log-error'), statusMsg(e));
    }
  }

  /* ---- the add form ---- */

  function renderKinds() {
    const box = $('int-kinds');
    box.replaceChildren(...EVENT_KINDS.map((k) => {
      const lab = el('label', { cls: 'check' });
      const c = el('input');
      c.type = 'checkbox';
      c.value = k;
      c.className = 'i-kind';
      c.disabled = true;
      lab.append(c, ' ' + k);
      return lab;
    }));
  }

  function updateAddForm() {
    const all = $('int-events-all').checked;
    document.querySelectorAll('#int-kinds .i-kind').forEach((c) => { c.disabled = all; });
    const trust = document.querySelector('#int-trust input[name=trust]:checked').value;
    show($('int-ca-field'), trust === 'ca');
    show($('int-pin-field'), trust === 'pin');
    show($('int-keystore-more'), $('int-keystore').files.length > 0);
  }

  /* Back to "Add an integration": every field empty, the name editable. */
  function resetAddForm() {
    state.editing = null;
    $('int-add-form').reset();
    clearErrors($('int-add-form'));
    $('int-name').readOnly = false;
    $('int-form-title').textContent = 'Add an integration';
    $('int-add-submit').textContent = 'Add';
    $('int-ca-hint').textContent = 'PEM; one or more CA certificates.';
    show($('int-edit-cancel'), false);
    show($('int-keystore-current'), false);
    updateAddForm();
  }

  /* The form in edit mode, filled with it; Save sends only a PUT of what it shows. */
  function openIntEdit(it) {
    resetAddForm();
    unflash();
    state.editing = it;
    $('int-form-title').textContent = 'Edit ' + it.name;
    $('int-add-submit').textContent = 'Save';
    show($('int-edit-cancel'), true);
    $('int-name').value = it.name;
    $('int-name').readOnly = true;
    $('int-url').value = it.url;
    const all = !it.events || it.events.indexOf('*') >= 0;
    $('int-events-all').checked = all;
    document.querySelectorAll('#int-kinds .i-kind').forEach((c) => {
      c.checked = !all && it.events.indexOf(c.value) >= 0;
    });
    $('int-project').value = it.project || '';
    document.querySelector('#int-trust input[value="' + (it.trust || 'store') + '"]').checked = true;
    $('int-pin').value = it.pin || '';
    if (it.trust === 'ca') {
      $('int-ca-hint').textContent = 'Trusted now: ' + (it.ca_subjects || []).join('; ') +
        '. Choose a file only to replace it.';
    }
    const cc = it.client_certificate;
    show($('int-keystore-current'), !!cc);
    if (cc) {
      $('int-keystore-current-text').textContent = 'Presented now: ' + cc.subject + ', until ' +
        fmtDay(cc.not_after) + '. Choose a keystore only to replace it.';
    }
    $('int-allow-plain').checked = !!it.allow_plain;
    updateAddForm();
    $('int-add-form').scrollIntoView({ block: 'start' });
    $('int-url').focus({ preventScroll: true });
  }

  async function onIntAdd(ev) {
    ev.preventDefault();
    const form = $('int-add-form');
    clearErrors(form);
    unflash();
    const body = { name: $('int-name').value.trim(), url: $('int-url').value.trim() };
    if (!body.name) {
      fieldError(form, 'name', 'Enter a name for this receiver, such as ci or chat.');
      $('int-name').focus();
      return;
    }
    if (!body.url) {
      fieldError(form, 'url', 'Enter the URL the events are POSTed to.');
      $('int-url').focus();
      return;
    }
    if (!$('int-events-all').checked) {
      body.events = Array.from(document.querySelectorAll('#int-kinds .i-kind:checked')).map((c) => c.value);
      if (body.events.length === 0) {
        fieldError(form, 'events', 'Choose at least one kind, or every kind.');
        return;
      }
    }
    const editing = state.editing;
    const project = $('int-project').value.trim();
    if (project) body.project = project;
    if (editing) {
      /* A PUT says everything the form shows: cleared fields clear. */
      delete body.name;
      if (!body.events) body.events = ['*'];
      if (!project) body.project = null;
      body.allow_plain = $('int-allow-plain').checked;
    }
    const trust = document.querySelector('#int-trust input[name=trust]:checked').value;
    try {
      if (editing && trust === 'store') {
        body.ca_pem = null;
        body.pin = null;
      }
      if (editing && trust === 'ca' && editing.trust === 'ca' && !$('int-ca-file').files[0]) {
        body.pin = null; /* the CA file in force stays */
      } else if (trust === 'ca') {
        if (editing) body.pin = null;
        const f = $('int-ca-file').files[0];
        if (!f) {
          fieldError(form, 'ca_pem', 'Choose the CA certificate file (PEM).');
          return;
        }
        if (f.size > 256 * 1024) {
          fieldError(form, 'ca_pem', 'This file is ' + fmtSize(f.size) + '; a CA file is at most 256 KiB.');
          return;
        }
        body.ca_pem = await f.text();
      } else if (trust === 'pin') {
        body.pin = $('int-pin').value.trim();
        if (!body.pin) {
          fieldError(form, 'pin', 'Enter the receiver certificate\'s SHA-256 fingerprint.');
          return;
        }
        if (editing) body.ca_pem = null;
      }
      const ks = $('int-keystore').files[0];
      if (ks) {
        if (ks.size === 0 || ks.size > MAX_KEYSTORE) {
          fieldError(form, 'client_keystore', 'This file is ' + fmtSize(ks.size) +
            '; a keystore is between a few hundred bytes and 1 MiB.');
          return;
        }
        body.client_keystore = { data: await readBase64(ks), password: $('int-keystore-password').value };
        const alias = $('int-keystore-alias').value.trim();
        if (alias) body.client_keystore.alias = alias;
      } else if (editing && $('int-keystore-remove').checked) {
        body.client_keystore = null;
      }
    } catch (e) {
      formError($('int-add-error'), e.message);
      return;
    }
    $('int-keystore-password').value = '';
    if (!editing && $('int-allow-plain').checked) body.allow_plain = true;
    if (editing) {
      try {
        const r = await busy($('int-add-submit'), 'Saving…', () => api('PUT', ipath(editing.name), body));
        resetAddForm();
        await loadIntegrations();
        flash('Saved ' + r.integration.name + '; the next delivery uses these settings.');
      } catch (e) {
        fieldError(form, e.field, statusMsg(e), $('int-add-error'));
      }
      return;
    }
    try {
      const r = await busy($('int-add-submit'), 'Adding…', () => api('POST', 'integrations', body));
      resetAddForm();
      await loadIntegrations();
      showSecret('Added ' + r.integration.name + '. Its signing secret:', r.secret);
    } catch (e) {
      /* The server names the field at fault; the keystore's password is part of its field. */
      fieldError(form, e.field, statusMsg(e), $('int-add-error'));
    }
  }

  /* ---- directory --------------------------------------------------------------------- */

  /* The form's fields, one row per setting (docs/directory.md). */
  const dirFields = [
    ['directory_urls', 'Servers', 'Tried in order, separated by spaces: ldaps://HOST:636 or ldap://HOST:389 (StartTLS). Empty: directory sign-in is off.'],
    ['directory_bind_dn', 'Bind DN', 'The service account that searches users and groups; empty: anonymous.'],
    ['directory_bind_password_file', 'Bind password file', 'A file on the server holding its password (first line); the password itself never goes through the console.'],
    ['directory_user_base', 'User search base', 'ou=people,dc=example,dc=com'],
    ['directory_user_filter', 'User filter', '{user} is the name typed at login: (uid={user}), or (sAMAccountName={user}) for Active Directory.'],
    ['directory_display_name_attr', 'Display name attribute', ''],
    ['directory_email_attr', 'Email attribute', ''],
    ['directory_group_base', 'Group search base', 'Empty: only the users\' memberOf values count.'],
    ['directory_group_filter', 'Group filter', '{dn} is the user\'s DN, {user} the login name.'],
    ['directory_group_map', 'Groups to roles', 'GROUP:ROLE pairs separated by ";" (a cn or a DN; admin or user): atrium-admins:admin; modelers:user'],
    ['directory_default_role', 'Default role', 'For users whose groups map to none: user, admin or none (they cannot log in).'],
    ['directory_ca_file', 'CA file', 'PEM CA certificates trusted for the directory alone; empty: the trusted certificates.'],
    ['directory_connect_timeout', 'Connect timeout (s)', ''],
    ['directory_read_timeout', 'Read timeout (s)', ''],
    ['directory_login_order', 'Login order', 'local,directory or directory,local']
  ];

  function renderDirectory(d) {
    const box = $('dir-fields');
    if (!box.firstChild) {
      dirFields.forEach(([key, label, hint]) => {
        const f = el('div', { cls: 'field' });
        const l = el('label', null, label);
        l.htmlFor = 'dir-' + key;
        const i = el('input');
        i.id = 'dir-' + key;
        i.name = key;
        i.type = 'text';
        i.autocomplete = 'off';
        i.spellcheck = false;
        f.append(l, i);
        if (hint) f.append(el('p', { cls: 'hint' }, hint));
        const e = el('p', { cls: 'field-error' });
        e.dataset.for = key;
        e.hidden = true;
        f.append(e);
        box.append(f);
      });
    }
    dirFields.forEach(([key]) => { $('dir-' + key).value = d.settings[key] || ''; });
    const badge = $('dir-badge');
    badge.textContent = d.enabled ? 'On' : 'Off';
    badge.className = 'badge ' + (d.enabled ? 'state-ok' : 'state-warn');
  }

  async function loadDirectory() {
    clearErrors($('view-directory'));
    renderDirectory(await api('GET', 'directory'));
  }

  async function onDirectorySave(ev) {
    ev.preventDefault();
    const form = $('dir-form');
    clearErrors(form);
    const settings = {};
    dirFields.forEach(([key]) => {
      const v = $('dir-' + key).value.trim();
      settings[key] = v === '' ? null : v;
    });
    try {
      const d = await busy($('dir-save'), 'Saving…', () => api('PUT', 'directory', { settings: settings }));
      renderDirectory(d);
      flash('Directory settings saved and applied. Test them below.');
    } catch (e) {
      fieldError(form, e.body && e.body.field, statusMsg(e), $('dir-error'));
    }
  }

  /* One server of a test answer, as a small table of what was seen. */
  function dirServerCard(s) {
    const div = el('div', { cls: 'card-inner' });
    div.append(el('h3', null, s.url + ' (' + s.mode + ')'));
    const rows = [];
    if (s.tls_version) rows.push(['TLS', s.tls_version + ', ' + (s.cipher || '')]);
    if (s.certificate) {
      rows.push(['Certificate', s.certificate.subject]);
      rows.push(['Issued by', s.certificate.issuer]);
      rows.push(['Names', s.certificate.names]);
      rows.push(['Name compared', s.certificate.compared]);
      rows.push(['Valid', fmtTime(s.certificate.not_before) + ' to ' + fmtTime(s.certificate.not_after)]);
      rows.push(['SHA-256', s.certificate.sha256]);
    }
    (s.chain || []).forEach((c, i) => rows.push(['Chain [' + (i + 1) + ']', c.subject + ' (issuer ' + c.issuer + ')']));
    if (s.verified) rows.push(['Verified', 'chain and name']);
    if (s.bind) rows.push(['Bind', s.bind]);
    rows.push([s.error ? 'Failed' : 'Result', s.error || 'ok']);
    const t = el('table', { cls: 'table' });
    const tb = el('tbody');
    rows.forEach(([k, v]) => {
      const tr = el('tr');
      tr.append(el('th', null, k), el('td', { cls: k === 'Failed' ? 'form-error' : '' }, v));
      tb.append(tr);
    });
    t.append(tb);
    div.append(t);
    return div;
  }

  async function onDirectoryTest(ev) {
    ev.preventDefault();
    const form = $('dir-test-form');
    clearErrors(form);
    const user = $('dir-test-user').value.trim();
    const out = $('dir-test-result');
    show(out, false); /* the last answer goes until the new one is there */
    try {
      const r = await busy($('dir-test-submit'), 'Testing…', () =>
        api('POST', 'directory/test', user ? { user: user } : {}));
      const parts = [el('p', null, r.ok ? 'At least one server works.' : 'No server works: see each failure and its fix.')];
      (r.servers || []).forEach((s) => parts.push(dirServerCard(s)));
      if (r.user) {
        const u = r.user;
        parts.push(el('h3', null, 'User ' + u.name));
        if (u.error) parts.push(el('p', { cls: 'form-error' }, u.error));
        else {
          parts.push(el('p', null, u.dn + ' · ' + (u.display_name || '') + ' · ' + (u.email || '')));
          parts.push(el('p', null, 'Groups: ' + ((u.groups || []).map((g) => g.cn || g.dn).join(', ') || 'none')));
          parts.push(el('p', null, 'Role: ' + u.role + ' (from ' + u.role_from + ')'));
        }
      }
      out.replaceChildren(...parts);
      show(out, true);
    } catch (e) {
      show(out, false);
      formError($('dir-test-error'), statusMsg(e));
    }
  }

  /* ---- start ------------------------------------------------------------------------- */

  async function start() {
    $('login-form').addEventListener('submit', onLogin);
    $('login-cert-submit').addEventListener('click', onCertLogin);
    $('logout').addEventListener('click', onLogout);
    $('tls-form').addEventListener('submit', onTlsSave);
    $('tls-force').addEventListener('click', () => resendTls($('tls-force')));
    $('tls-reprotect-now').addEventListener('click', () => resendTls($('tls-reprotect-now')));
    $('tls-clear').addEventListener('click', onTlsClear);
    $('tls-clear-yes').addEventListener('click', onTlsClearConfirm);
    $('tls-clear-no').addEventListener('click', () => show($('tls-clear-confirm'), false));
    $('tls-enabled').addEventListener('change', updateCertRequired);
    $('tls-keystore').addEventListener('change', () => {
      /* A new file: its key entries are not known yet. */
      $('tls-alias').replaceChildren();
      show($('tls-alias-field'), false);
      clearErrors($('tls-form'));
      state.pendingTls = null;
      show($('tls-mismatch'), false);
      show($('tls-weak'), false);
      /* Before Save: the console's own certificate changes with it. */
      show($('tls-upload-notice'), $('tls-keystore').files.length > 0);
      updateCertRequired();
    });
    $('plain-enabled').addEventListener('change', onPlainToggle);
    $('user-add-form').addEventListener('submit', onUserAdd);
    $('trust-import-form').addEventListener('submit', onTrustImport);
    $('trust-fetch-form').addEventListener('submit', onTrustFetch);
    $('trust-fetch-trust').addEventListener('click', onTrustTrust);
    renderKinds();
    $('int-add-form').addEventListener('submit', onIntAdd);
    $('int-add-form').addEventListener('change', updateAddForm);
    $('int-edit-cancel').addEventListener('click', resetAddForm);
    $('int-secret-copy').addEventListener('click', onSecretCopy);
    $('int-secret-done').addEventListener('click', hideSecret);
    $('int-log-close').addEventListener('click', closeLog);
    $('int-log-older').addEventListener('click', () => openLog(state.logOf, true));
    $('dir-form').addEventListener('submit', onDirectorySave);
    $('dir-test-form').addEventListener('submit', onDirectoryTest);
    window.addEventListener('hashchange', route);

    try {
      setSession(await api('GET', 'session'));
    } catch (e) {
      state.user = null;
      showLogin(e.status === 401 ? null : e.message);
      return;
    }
    route();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
