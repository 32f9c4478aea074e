// as-users: an authhost provider in AssemblyScript, written from
// abi/SPEC.md with @extism/as-pdk. Users, password hashes and roles come
// from the plugin configuration; users who sign up (when allowed) are kept
// in the plugin's KV store. Capabilities: user, credentials, rbac.
//
// Build (see ../package.json): asc assembly/index.ts -O2 --exportStart _initialize
import { Config, Host, LogLevel, Memory } from "@extism/as-pdk";
import { Value, parse, quote, quoteAll, ARR, NUM } from "./json";
import { b64decode, b64encode, equal, hex, pbkdf2, sha256, utf8 } from "./crypto";

@external("authhost", "kv_get")
declare function kv_get(req: u64): u64;
@external("authhost", "kv_set")
declare function kv_set(req: u64): u64;
@external("authhost", "kv_cas")
declare function kv_cas(req: u64): u64;
@external("authhost", "password_hash")
declare function password_hash(req: u64): u64;
@external("authhost", "password_verify")
declare function password_verify(req: u64): u64;
@external("extism:host/env", "length")
declare function kernel_length(off: u64): u64;

const VERSION = "0.1.0";
const MAX_PASSWORD_BYTES = 1024;

// Module-level code runs in _initialize (built with --exportStart
// _initialize), where the kernel's config is available.
const RAW_CONFIG = Config.get("config");

// ---- configuration --------------------------------------------------------

class Role {
  id: string = "";
  name: string = "";
  description: string = "";
  permissions: string[] = [];
  inherits: string[] = [];
}

class Account {
  id: string = "";
  email: string = "";
  name: string = "";
  hash: string = "";
  roles: string[] = [];
  source: string = "config";
}

class Cfg {
  users: Account[] = [];
  roles: Role[] = [];
  allowSignUp: bool = false;
  defaultRole: string = "member";
  minPasswordLength: i32 = 8;
  // argon2id cost of new hashes (the host's password_hash, SPEC §6.7).
  memoryKiB: i32 = 19456;
  time: i32 = 2;
  // error is the first configuration problem; errorField the key it is in.
  error: string = "";
  errorField: string = "";
}

function defaultRoles(): Role[] {
  const owner = new Role();
  owner.id = "owner"; owner.name = "Owner"; owner.permissions = ["*"];
  const member = new Role();
  member.id = "member"; member.name = "Member"; member.permissions = ["agents:read", "agents:execute"];
  const viewer = new Role();
  viewer.id = "viewer"; viewer.name = "Viewer"; viewer.permissions = ["agents:read"];
  return [owner, member, viewer];
}

// storedHashKnown reports whether s is a hash this provider can verify,
// within the bounds of the host's password_verify (SPEC §6.7), so a
// configured hash never fails at sign-in: an argon2id PHC string or a
// bcrypt hash (verified by the host), or a legacy pbkdf2-sha256 hash
// (verified here).
function storedHashKnown(s: string): bool {
  if (s.startsWith("pbkdf2-sha256$")) return s.split("$").length == 4;
  const p = s.split("$");
  if (p.length == 4 && (p[1] == "2a" || p[1] == "2b" || p[1] == "2y")) {
    const cost = digits(p[2]);
    return cost >= 4 && cost <= 12 && p[3].length == 53 && b64ish(p[3]);
  }
  if (p.length != 6 || p[0] != "" || p[1] != "argon2id" || p[2] != "v=19") return false;
  const kv = p[3].split(",");
  if (kv.length != 3 || !kv[0].startsWith("m=") || !kv[1].startsWith("t=") || !kv[2].startsWith("p=")) return false;
  const m = digits(kv[0].substring(2)), t = digits(kv[1].substring(2)), th = digits(kv[2].substring(2));
  if (th < 1 || th > 4 || m < 8 * th || m > 65536 || t < 1 || t > 10) return false;
  // salt ≥ 8 bytes, key 16–64 bytes, in (un)padded base64.
  return p[4].length >= 11 && b64ish(p[4]) && p[5].length >= 22 && p[5].length <= 88 && b64ish(p[5]);
}

// digits parses a short run of ASCII digits; -1 for anything else.
function digits(s: string): i32 {
  if (s.length == 0 || s.length > 6) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

// b64ish reports whether s holds only base64 (standard or bcrypt's
// alphabet) characters and padding.
function b64ish(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 43 || c == 47 || c == 46 || c == 61;
    if (!ok) return false;
  }
  return true;
}

function setError(c: Cfg, field: string, message: string): void {
  if (c.error != "") return;
  c.error = message;
  c.errorField = field;
}

// intIn reads member k as an integer within [lo, hi], def when absent.
function intIn(c: Cfg, v: Value, k: string, def: i32, lo: i32, hi: i32): i32 {
  const m = v.get(k);
  if (m == null) return def;
  if (m.kind != NUM || m.n != Math.floor(m.n) || m.n < lo || m.n > hi) {
    setError(c, k, "want an integer from " + lo.toString() + " to " + hi.toString());
    return def;
  }
  return <i32>m.n;
}

function loadConfig(): Cfg {
  const c = new Cfg();
  const v = parse(RAW_CONFIG == null ? "{}" : RAW_CONFIG!);
  if (v == null) {
    c.error = "config is not valid JSON";
    return c;
  }
  const users = v.arr("users");
  for (let i = 0; i < users.length; i++) {
    const a = new Account();
    a.id = users[i].str("id");
    a.email = normalizeEmail(users[i].str("email"));
    a.name = users[i].str("name");
    a.hash = users[i].str("password_hash");
    a.roles = users[i].strings("roles");
    if (a.id == "" || a.email == "" || !storedHashKnown(a.hash)) {
      setError(c, "users." + i.toString(), "id, email and a password_hash ($argon2id$…, $2b$…, or pbkdf2-sha256$…) are required");
    }
    c.users.push(a);
  }
  const roles = v.arr("roles");
  for (let i = 0; i < roles.length; i++) {
    const r = new Role();
    r.id = roles[i].str("id");
    r.name = roles[i].str("name", r.id);
    r.description = roles[i].str("description");
    r.permissions = roles[i].strings("permissions");
    r.inherits = roles[i].strings("inherits");
    c.roles.push(r);
  }
  if (c.roles.length == 0) c.roles = defaultRoles();
  c.allowSignUp = v.bool("allow_sign_up");
  c.defaultRole = v.str("default_role", "member");
  c.minPasswordLength = intIn(c, v, "min_password_length", 8, 1, 1024);
  // The host's bounds for argon2id (SPEC §6.7), so a hash never fails.
  c.memoryKiB = intIn(c, v, "argon2_memory_kib", 19456, 8, 65536);
  c.time = intIn(c, v, "argon2_time", 2, 1, 10);
  return c;
}

// Parsed once per instance, on first use (SPEC §10: valid for its life).
let cfgCache: Cfg | null = null;
function cfg(): Cfg {
  if (cfgCache == null) cfgCache = loadConfig();
  return cfgCache!;
}

// ---- envelopes and host calls ---------------------------------------------

// output writes UTF-8 bytes: as-pdk 1.0.0's Host.outputString sizes its
// output in UTF-16 units and truncates non-ASCII text.
function output(s: string): i32 {
  Host.output(utf8(s));
  return 0;
}

function ok(data: string): i32 {
  return output('{"ok":true,"data":' + data + "}");
}

function fail(code: string, message: string): i32 {
  return output('{"ok":false,"error":{"code":' + quote(code) + ',"message":' + quote(message) + "}}");
}

function input(): Value | null {
  const s = Host.inputString();
  return parse(s.length == 0 ? "{}" : s);
}

// The authhost host functions hostCall reaches.
const KV_GET = 0;
const KV_SET = 1;
const KV_CAS = 2;
const PASSWORD_HASH = 3;
const PASSWORD_VERIFY = 4;

function callHost(fn: i32, off: u64): u64 {
  switch (fn) {
    case KV_GET: return kv_get(off);
    case KV_SET: return kv_set(off);
    case KV_CAS: return kv_cas(off);
    case PASSWORD_HASH: return password_hash(off);
    default: return password_verify(off);
  }
}

// hostCall sends one JSON request to an authhost host function and returns
// its envelope's data, or null with lastError (and lastCode) set.
let lastError = "";
let lastCode = "";
function hostCall(fn: i32, req: string): Value | null {
  const m = Memory.allocateString(req);
  const off = callHost(fn, m.offset);
  m.free();
  const res = new Memory(off, kernel_length(off));
  const env = parse(res.toString());
  res.free();
  if (env == null) {
    lastError = "malformed host answer";
    lastCode = "internal";
    return null;
  }
  if (!env.bool("ok")) {
    const e = env.get("error");
    lastError = e == null ? "host error" : e.str("message");
    lastCode = e == null ? "internal" : e.str("code", "internal");
    return null;
  }
  return env.get("data");
}

function kvGet(key: string): string | null {
  const d = hostCall(KV_GET, '{"key":' + quote(key) + "}");
  if (d == null || !d.bool("found")) return null;
  const b = b64decode(d.str("value"));
  return b == null ? null : String.UTF8.decode(b.buffer);
}

function kvSet(key: string, value: string): bool {
  return hostCall(KV_SET, '{"key":' + quote(key) + ',"value":' + quote(b64encode(utf8(value))) + "}") != null;
}

// kvCreate writes key only if it does not exist yet (kv_cas, SPEC §6.6):
// 1 written, 0 already there, -1 failed (lastError set).
function kvCreate(key: string, value: string): i32 {
  const d = hostCall(KV_CAS, '{"key":' + quote(key) + ',"value":' + quote(b64encode(utf8(value))) + ',"absent":true}');
  if (d == null) return -1;
  return d.bool("swapped") ? 1 : 0;
}

// ---- accounts -------------------------------------------------------------

function normalizeEmail(s: string): string {
  return s.trim().toLowerCase();
}

function byEmail(c: Cfg, email: string): Account | null {
  for (let i = 0; i < c.users.length; i++) if (c.users[i].email == email) return c.users[i];
  const raw = kvGet("user/email/" + email);
  if (raw == null) return null;
  const v = parse(raw);
  if (v == null) return null;
  const a = new Account();
  a.id = v.str("id");
  a.email = v.str("email");
  a.name = v.str("name");
  a.hash = v.str("password_hash");
  a.roles = v.strings("roles");
  a.source = "sign_up";
  return a;
}

function byID(c: Cfg, id: string): Account | null {
  for (let i = 0; i < c.users.length; i++) if (c.users[i].id == id) return c.users[i];
  const email = kvGet("user/id/" + id);
  return email == null ? null : byEmail(c, email);
}

function userJSON(a: Account): string {
  return '{"id":' + quote(a.id) + ',"email":' + quote(a.email) + (a.name != "" ? ',"name":' + quote(a.name) : "") +
    ',"roles":' + quoteAll(a.roles) + ',"metadata":{"source":' + quote(a.source) + "}}";
}

// hasControl reports a C0 control character or DEL. A password holding
// one (a NUL most of all) may be cut short by a parser or a C library on
// the way to the hash, so "pw\0x" could sign in as "pw": refuse it
// (found by authhost conformance).
function hasControl(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// hashPassword hashes with argon2id in the host (password_hash, SPEC §6.7):
// native speed, and the host bounds how many hashes run at once. It
// returns "" with lastError/lastCode set when the host refuses (busy).
function hashPassword(c: Cfg, password: string): string {
  const d = hostCall(PASSWORD_HASH, '{"password":' + quote(password) + ',"memory_kib":' + c.memoryKiB.toString() +
    ',"time":' + c.time.toString() + "}");
  return d == null ? "" : d.str("hash");
}

// dummyHash is an argon2id hash of the configured cost that matches no
// password: unknown emails verify it, so they answer as slowly as a
// wrong password.
function dummyHash(c: Cfg): string {
  return "$argon2id$v=19$m=" + c.memoryKiB.toString() + ",t=" + c.time.toString() +
    ",p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
}

// verifyPassword checks password against a stored hash: argon2id and
// bcrypt in the host (constant time), legacy pbkdf2-sha256 here. It
// returns 1 for a match, 0 for none, -1 when the host could not answer
// (lastCode set: rate_limited when every hash slot is busy).
function verifyPassword(stored: string, password: string): i32 {
  if (stored.startsWith("pbkdf2-sha256$")) return verifyPBKDF2(stored, password) ? 1 : 0;
  const d = hostCall(PASSWORD_VERIFY, '{"password":' + quote(password) + ',"hash":' + quote(stored) + "}");
  if (d == null) return -1;
  return d.bool("match") ? 1 : 0;
}

// verifyPBKDF2 checks a "pbkdf2-sha256$<iterations>$<salt>$<key>" hash
// (base64), the format of this provider before the host hashed.
function verifyPBKDF2(stored: string, password: string): bool {
  const parts = stored.split("$");
  if (parts.length != 4 || parts[0] != "pbkdf2-sha256") return false;
  const n = I32.parseInt(parts[1]);
  const salt = b64decode(parts[2]);
  const want = b64decode(parts[3]);
  if (n < 1 || n > 10000000 || salt == null || want == null) return false;
  return equal(pbkdf2(utf8(password), salt, n), want);
}

// ---- exports --------------------------------------------------------------

export function authhost_describe(): i32 {
  return output('{"abi":"1.2","name":"as-users","version":' + quote(VERSION) +
    ',"capabilities":["user","credentials","rbac"],"implements":["authhost_configure","credentials_sign_up_enabled","rbac_role_definitions"]}');
}

// authhost_configure refuses a bad configuration at load (SPEC §7.1), so
// the operator sees "plugins.as-users.config.<field>: …" instead of
// failing sign-ins. The document is the same as the config key.
export function authhost_configure(): i32 {
  const c = cfg();
  if (c.error == "") return ok("{}");
  return output('{"ok":false,"error":{"code":"invalid_request","message":' + quote(c.error) +
    (c.errorField != "" ? ',"field":' + quote(c.errorField) : "") + "}}");
}

export function user_current(): i32 {
  return ok('{"user":null}');
}

export function user_get(): i32 {
  const c = cfg();
  if (c.error != "") return fail("internal", c.error);
  const v = input();
  if (v == null) return fail("invalid_request", "input is not JSON");
  const id = v.str("id");
  const a: Account | null = id == "" ? null : byID(c, id);
  return ok('{"user":' + (a == null ? "null" : userJSON(a)) + "}");
}

export function credentials_sign_in(): i32 {
  const c = cfg();
  if (c.error != "") return fail("internal", c.error);
  const v = input();
  if (v == null) return fail("invalid_request", "input is not JSON");
  const email = normalizeEmail(v.str("email"));
  const password = v.str("password");
  const a: Account | null = email == "" ? null : byEmail(c, email);
  // An unknown email verifies a dummy hash of the same cost, so the
  // answer takes as long as for a wrong password (SPEC §5.4).
  const stored = a != null ? a.hash : dummyHash(c);
  const good = verifyPassword(stored, password);
  if (good < 0) return fail(lastCode == "rate_limited" ? "rate_limited" : "unavailable", "password check: " + lastError);
  if (a == null || good == 0 || hasControl(password) || String.UTF8.byteLength(password) > MAX_PASSWORD_BYTES) {
    return fail("invalid_credentials", "invalid email or password");
  }
  return ok('{"user":' + userJSON(a) + "}");
}

function validEmail(s: string): bool {
  const at = s.indexOf("@");
  if (at <= 0 || at == s.length - 1 || s.indexOf("@", at + 1) >= 0 || s.length > 254) return false;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch <= 32 || ch == 127 || ' <>()[],;:\\"'.indexOf(String.fromCharCode(ch)) >= 0) return false;
  }
  return true;
}

export function credentials_sign_up(): i32 {
  const c = cfg();
  if (c.error != "") return fail("internal", c.error);
  if (!c.allowSignUp) return fail("sign_up_disabled", "sign-up is disabled");
  const v = input();
  if (v == null) return fail("invalid_request", "input is not JSON");
  const email = normalizeEmail(v.str("email"));
  const password = v.str("password");
  if (!validEmail(email)) return fail("invalid_request", "a valid email address is required");
  if (password.length < c.minPasswordLength) {
    return fail("invalid_request", "password must be at least " + c.minPasswordLength.toString() + " characters");
  }
  if (String.UTF8.byteLength(password) > MAX_PASSWORD_BYTES) return fail("invalid_request", "password is too long");
  if (hasControl(password)) return fail("invalid_request", "password must not contain control characters");
  if (byEmail(c, email) != null) return fail("already_exists", "an account with this email already exists");
  const a = new Account();
  a.id = "usr_" + hex(sha256(utf8(email))).substring(0, 20);
  a.email = email;
  a.name = v.str("name").trim();
  a.hash = hashPassword(c, password);
  if (a.hash == "") return fail(lastCode == "rate_limited" ? "rate_limited" : "unavailable", "password hash: " + lastError);
  a.roles = [c.defaultRole];
  a.source = "sign_up";
  const rec = '{"id":' + quote(a.id) + ',"email":' + quote(a.email) + ',"name":' + quote(a.name) +
    ',"password_hash":' + quote(a.hash) + ',"roles":' + quoteAll(a.roles) + "}";
  // Create-only, so that of concurrent sign-ups of one email exactly one
  // wins, on every instance and replica.
  const created = kvCreate("user/email/" + email, rec);
  if (created < 0) return fail("unavailable", "store: " + lastError);
  if (created == 0) return fail("already_exists", "an account with this email already exists");
  if (!kvSet("user/id/" + a.id, email)) return fail("unavailable", "store: " + lastError);
  Host.log(LogLevel.Info, "user signed up: " + a.id);
  return ok('{"user":' + userJSON(a) + "}");
}

export function credentials_sign_up_enabled(): i32 {
  return ok('{"enabled":' + (cfg().allowSignUp ? "true" : "false") + "}");
}

// rolesOf: the stored roles of a user this provider knows, else the roles
// the host passed in.
function rolesOf(c: Cfg, u: Value): string[] {
  const id = u.str("id");
  if (id != "") {
    const a = byID(c, id);
    if (a != null) return a.roles;
  }
  return u.strings("roles");
}

function userArg(): Value | null {
  const v = input();
  if (v == null) return null;
  const u = v.get("user");
  return u == null ? new Value() : u;
}

export function rbac_roles(): i32 {
  const c = cfg();
  if (c.error != "") return fail("internal", c.error);
  const u = userArg();
  if (u == null) return fail("invalid_request", "input is not JSON");
  return ok('{"roles":' + quoteAll(rolesOf(c, u)) + "}");
}

export function rbac_permissions(): i32 {
  const c = cfg();
  if (c.error != "") return fail("internal", c.error);
  const u = userArg();
  if (u == null) return fail("invalid_request", "input is not JSON");
  // Resolve inherits transitively; visited roles are skipped (cycles).
  const todo = rolesOf(c, u).slice();
  const seen = new Set<string>();
  const perms = new Set<string>();
  while (todo.length > 0) {
    const id = todo.pop();
    if (seen.has(id)) continue;
    seen.add(id);
    for (let i = 0; i < c.roles.length; i++) {
      if (c.roles[i].id != id) continue;
      for (let j = 0; j < c.roles[i].permissions.length; j++) perms.add(c.roles[i].permissions[j]);
      for (let j = 0; j < c.roles[i].inherits.length; j++) todo.push(c.roles[i].inherits[j]);
    }
  }
  const out = perms.values();
  out.sort();
  return ok('{"permissions":' + quoteAll(out) + "}");
}

export function rbac_role_definitions(): i32 {
  const c = cfg();
  let out = "[";
  for (let i = 0; i < c.roles.length; i++) {
    const r = c.roles[i];
    if (i > 0) out += ",";
    out += '{"id":' + quote(r.id) + ',"name":' + quote(r.name) + ',"description":' + quote(r.description) +
      ',"permissions":' + quoteAll(r.permissions) + ',"inherits":' + quoteAll(r.inherits) + "}";
  }
  return ok('{"roles":' + out + "]}");
}
