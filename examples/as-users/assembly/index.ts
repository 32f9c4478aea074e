// as-users: an authhost provider in AssemblyScript, written from
// abi/SPEC.md with @extism/as-pdk. Users, password hashes and roles come
// from the plugin configuration; users who sign up (when allowed) are kept
// in the plugin's KV store. Capabilities: user, credentials, rbac.
//
// Build (see ../package.json): asc assembly/index.ts -O2 --exportStart _initialize
import { Config, Host, LogLevel, Memory } from "@extism/as-pdk";
import { Value, parse, quote, quoteAll, ARR } from "./json";
import { b64decode, b64encode, equal, hex, pbkdf2, randomBytes, sha256, utf8 } from "./crypto";

@external("authhost", "kv_get")
declare function kv_get(req: u64): u64;
@external("authhost", "kv_set")
declare function kv_set(req: u64): u64;
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
  iterations: i32 = 100000;
  error: string = "";
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
    if (a.id == "" || a.email == "" || !a.hash.startsWith("pbkdf2-sha256$")) {
      c.error = "users." + i.toString() + ": id, email and a pbkdf2-sha256 password_hash are required";
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
  c.minPasswordLength = <i32>v.num("min_password_length", 8);
  c.iterations = <i32>v.num("pbkdf2_iterations", 100000);
  if (c.iterations < 1 || c.iterations > 10000000) c.error = "pbkdf2_iterations must be between 1 and 10000000";
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

// hostCall sends one JSON request to an authhost host function and returns
// its envelope's data, or null with lastError set.
let lastError = "";
function hostCall(fn: i32, req: string): Value | null {
  const m = Memory.allocateString(req);
  const off = fn == 0 ? kv_get(m.offset) : kv_set(m.offset);
  m.free();
  const res = new Memory(off, kernel_length(off));
  const env = parse(res.toString());
  res.free();
  if (env == null) {
    lastError = "malformed host answer";
    return null;
  }
  if (!env.bool("ok")) {
    const e = env.get("error");
    lastError = e == null ? "host error" : e.str("message");
    return null;
  }
  return env.get("data");
}

function kvGet(key: string): string | null {
  const d = hostCall(0, '{"key":' + quote(key) + "}");
  if (d == null || !d.bool("found")) return null;
  const b = b64decode(d.str("value"));
  return b == null ? null : String.UTF8.decode(b.buffer);
}

function kvSet(key: string, value: string): bool {
  return hostCall(1, '{"key":' + quote(key) + ',"value":' + quote(b64encode(utf8(value))) + "}") != null;
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

// hashPassword makes "pbkdf2-sha256$<iterations>$<salt>$<hash>" (base64).
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

function hashPassword(password: string, iterations: i32): string {
  const salt = randomBytes(16);
  return "pbkdf2-sha256$" + iterations.toString() + "$" + b64encode(salt) + "$" + b64encode(pbkdf2(utf8(password), salt, iterations));
}

function verifyPassword(stored: string, password: string): bool {
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
    ',"capabilities":["user","credentials","rbac"],"implements":["credentials_sign_up_enabled","rbac_role_definitions"]}');
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
  const stored = a != null ? a.hash : "pbkdf2-sha256$" + c.iterations.toString() + "$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  const good = verifyPassword(stored, password);
  if (a == null || !good || hasControl(password) || String.UTF8.byteLength(password) > MAX_PASSWORD_BYTES) {
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
  a.hash = hashPassword(password, c.iterations);
  a.roles = [c.defaultRole];
  a.source = "sign_up";
  const rec = '{"id":' + quote(a.id) + ',"email":' + quote(a.email) + ',"name":' + quote(a.name) +
    ',"password_hash":' + quote(a.hash) + ',"roles":' + quoteAll(a.roles) + "}";
  if (!kvSet("user/email/" + email, rec) || !kvSet("user/id/" + a.id, email)) {
    return fail("unavailable", "store: " + lastError);
  }
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
