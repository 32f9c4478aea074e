// Better Auth test peer for authhost (see betterauth.go).
//
// A real Better Auth 1.7.25 server (email+password, bearer and jwt plugins)
// on the memory adapter, so `npm ci` needs no native build. The database is
// loaded from BA_STATE_FILE at start (when present) and written back on
// SIGTERM/SIGINT, so a stop/start cycle keeps users, sessions and the JWKS.
//
// Environment: BA_PORT (required), BA_SECRET (required, >= 32 chars),
// BA_STATE_FILE (optional), BA_TRUSTED_ORIGINS (optional, comma-separated),
// BA_SESSION_EXPIRES_IN (optional, seconds; Better Auth's session.expiresIn),
// BA_EXIT_WITH_STDIN (optional, "1": exit when stdin closes).
//
// Test-only routes (outside Better Auth's base path):
//   GET  /__test/reset-token?email=…  last password-reset token sent to email
//   POST /__test/sign-jwt {payload}   a JWT signed with the server's JWKS key
//   POST /__test/verify-email {email} mark the user's email verified (what the
//                                     link of a verification email would do)
//   POST /__test/pause, /__test/resume  hold every other request until resumed
//
// When ready it prints one line: "better-auth ready <baseURL>".
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { bearer } from "better-auth/plugins/bearer";
import { jwt } from "better-auth/plugins/jwt";

const port = Number(process.env.BA_PORT);
const secret = process.env.BA_SECRET;
const stateFile = process.env.BA_STATE_FILE || "";
if (!port || !secret) {
  console.error("better-auth peer: BA_PORT and BA_SECRET are required");
  process.exit(2);
}
const baseURL = `http://127.0.0.1:${port}`;
const trusted = (process.env.BA_TRUSTED_ORIGINS || "").split(",").filter(Boolean);
const sessionExpiresIn = Number(process.env.BA_SESSION_EXPIRES_IN) || undefined;

// Dates survive the JSON snapshot as ISO strings; revive them so expiry
// comparisons keep working after a restart.
const isoDate = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
function loadState() {
  if (!stateFile || !fs.existsSync(stateFile)) return {};
  return JSON.parse(fs.readFileSync(stateFile, "utf8"), (k, v) =>
    typeof v === "string" && k.endsWith("At") && isoDate.test(v) ? new Date(v) : v);
}
const db = loadState();

const resetTokens = new Map(); // email -> token

// Password hashing: Better Auth's own format (hex salt ":" hex scrypt key)
// at a test cost. Better Auth's N=16384, r=16 takes ~100 ms of CPU per
// hash on libuv's thread pool, where Web Crypto (the HMAC of every signed
// session cookie) queues behind it: a burst of concurrent sign-ups then
// stalls get-session for seconds. The HTTP API is unchanged.
const testScrypt = { N: 1024, r: 8, p: 1, dkLen: 64 };
function scryptKey(password, salt) {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize("NFKC"), salt, testScrypt.dkLen, testScrypt, (err, key) => (err ? reject(err) : resolve(key))));
}
const password = {
  hash: async (pw) => {
    const salt = randomBytes(16).toString("hex");
    return `${salt}:${(await scryptKey(pw, salt)).toString("hex")}`;
  },
  verify: async ({ hash, password: pw }) => {
    const [salt, key] = hash.split(":");
    if (!salt || !key) return false;
    const want = Buffer.from(key, "hex");
    const got = await scryptKey(pw, salt);
    return want.length === got.length && timingSafeEqual(want, got);
  },
};

const auth = betterAuth({
  baseURL,
  basePath: "/api/auth",
  secret,
  database: memoryAdapter(db),
  trustedOrigins: [baseURL, ...trusted],
  telemetry: { enabled: false },
  // NODE_ENV=test would make Better Auth skip its Origin and redirect URL
  // checks; a test peer must enforce them as production does. Its rate
  // limiter (off outside production) stays off: tests sign in often.
  advanced: { disableOriginCheck: false },
  rateLimit: { enabled: false },
  session: sessionExpiresIn ? { expiresIn: sessionExpiresIn } : undefined,
  emailAndPassword: {
    enabled: true,
    password,
    sendResetPassword: async ({ user, token }) => {
      resetTokens.set(user.email, token);
    },
  },
  plugins: [bearer(), jwt()],
});

// "Migrations": the memory adapter needs one array per table of the schema
// (user, session, account, verification, jwks).
const ctx = await auth.$context;
for (const table of Object.values(ctx.tables)) {
  db[table.modelName] ??= [];
}

const handler = toNodeHandler(auth);

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : {};
}

// While paused (/__test/pause), requests outside /__test/ wait until
// /__test/resume: the server accepts connections but answers nothing, as a
// hung or overloaded one would.
let paused = null; // { promise, resume } while paused

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, baseURL);
    if (url.pathname === "/__test/pause" && req.method === "POST") {
      if (!paused) {
        let resume;
        const promise = new Promise((r) => (resume = r));
        paused = { promise, resume };
      }
      return json(res, 200, { ok: true });
    }
    if (url.pathname === "/__test/resume" && req.method === "POST") {
      if (paused) {
        paused.resume();
        paused = null;
      }
      return json(res, 200, { ok: true });
    }
    if (paused && !url.pathname.startsWith("/__test/")) await paused.promise;
    if (url.pathname === "/__test/reset-token") {
      const token = resetTokens.get(url.searchParams.get("email") || "");
      return token ? json(res, 200, { token }) : json(res, 404, { message: "no token" });
    }
    if (url.pathname === "/__test/verify-email" && req.method === "POST") {
      const { email } = await readBody(req);
      const user = await ctx.internalAdapter.updateUserByEmail(String(email || "").toLowerCase(), { emailVerified: true });
      return user ? json(res, 200, { ok: true }) : json(res, 404, { message: "no such user" });
    }
    if (url.pathname === "/__test/sign-jwt" && req.method === "POST") {
      const { payload } = await readBody(req);
      const out = await auth.api.signJWT({ body: { payload } });
      return json(res, 200, out);
    }
    return handler(req, res);
  } catch (err) {
    console.error("better-auth peer:", err);
    if (!res.headersSent) json(res, 500, { message: String(err) });
  }
});

function shutdown() {
  if (stateFile) {
    try {
      fs.writeFileSync(stateFile, JSON.stringify(db));
    } catch (err) {
      console.error("better-auth peer: save state:", err);
    }
  }
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

// With BA_EXIT_WITH_STDIN=1 the peer exits (and deletes its state file) when
// its stdin closes, i.e. when the test process that started it is gone.
if (process.env.BA_EXIT_WITH_STDIN === "1") {
  process.stdin.on("end", () => {
    if (stateFile) fs.rmSync(stateFile, { force: true });
    process.exit(0);
  });
  process.stdin.resume();
}

server.listen(port, "127.0.0.1", () => {
  console.log(`better-auth ready ${baseURL}`);
});
