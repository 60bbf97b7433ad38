// A webhook receiver for tests/integration/webhooks.sh: HTTPS (or plain
// HTTP) on 127.0.0.1, every delivery verified with the Standard Webhooks
// reference library (the npm package standardwebhooks), never with
// Atrium's code, and one JSON line per request appended to the record.
//
//   node receiver.js --port N --record FILE --secrets FILE --plan FILE
//        [--cert PEM --key PEM [--client-ca PEM]] | [--plain]
//
// --secrets: one whsec_ secret per line, read at every request (the test
//   writes it once it knows the secret); each record lists which of them
//   verified the request ("verified": [0, 1] = the first and the second).
// --plan: JSON read at every request: {"status": 200, "delay_ms": 0,
//   "headers": {...}, "body": "...", "queue": [{...}, ...]}; the queue's
//   answers are given first, one per request, each once (counted since the
//   plan's text last changed), then the plain answer.
// --client-ca: ask for a client certificate and refuse any not signed by it.
"use strict";
const fs = require("fs");
const http = require("http");
const https = require("https");
const { Webhook } = require("standardwebhooks");

const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i].replace(/^--/, "");
  if (a === "plain") args.plain = true;
  else args[a] = process.argv[++i];
}

let planText = null;
let used = 0;

function plan() {
  let text = "{}";
  try {
    text = fs.readFileSync(args.plan, "utf8");
  } catch (e) {}
  if (text !== planText) {
    planText = text;
    used = 0;
  }
  let p = {};
  try {
    p = JSON.parse(text);
  } catch (e) {}
  const queue = p.queue || [];
  if (used < queue.length) return Object.assign({}, p, queue[used++]);
  return p;
}

function secrets() {
  try {
    return fs.readFileSync(args.secrets, "utf8").split("\n").map((s) => s.trim()).filter(Boolean);
  } catch (e) {
    return [];
  }
}

function handle(req, res) {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const rec = {
      at: Date.now(),
      method: req.method,
      id: req.headers["webhook-id"] || null,
      timestamp: req.headers["webhook-timestamp"] || null,
      signature: req.headers["webhook-signature"] || null,
      event: req.headers["x-atrium-event"] || null,
      content_type: req.headers["content-type"] || null,
      user_agent: req.headers["user-agent"] || null,
      verified: [],
      errors: [],
    };
    const cert = req.socket.getPeerCertificate ? req.socket.getPeerCertificate() : null;
    rec.client_cert = cert && cert.subject ? cert.subject.CN || "?" : null;
    secrets().forEach((s, i) => {
      try {
        const doc = new Webhook(s).verify(body, req.headers);
        rec.verified.push(i);
        rec.type = doc.type;
        rec.seq = doc.seq;
        rec.data = doc.data;
      } catch (e) {
        rec.errors.push(String(e.message || e));
      }
    });
    const p = plan();
    const status = rec.verified.length === 0 ? 400 : p.status || 200;
    rec.answered = status;
    fs.appendFileSync(args.record, JSON.stringify(rec) + "\n");
    setTimeout(() => {
      res.writeHead(status, Object.assign({ "content-type": "text/plain" }, p.headers || {}));
      res.end(rec.verified.length === 0 ? "signature: " + rec.errors.join("; ") : p.body || "ok");
    }, p.delay_ms || 0);
  });
}

let server;
if (args.plain) {
  server = http.createServer(handle);
} else {
  const opts = { cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) };
  if (args["client-ca"]) {
    opts.ca = fs.readFileSync(args["client-ca"]);
    opts.requestCert = true;
    opts.rejectUnauthorized = true;
  }
  server = https.createServer(opts, handle);
}
server.listen(Number(args.port), "127.0.0.1", () => {
  process.stdout.write("listening " + args.port + "\n");
});
