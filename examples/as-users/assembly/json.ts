// A small JSON reader and writer: AssemblyScript has no JSON in its
// standard library, and a provider needs only objects, arrays, strings,
// numbers, booleans and null.

export const NULL: i32 = 0;
export const BOOL: i32 = 1;
export const NUM: i32 = 2;
export const STR: i32 = 3;
export const ARR: i32 = 4;
export const OBJ: i32 = 5;

// Value is one parsed JSON value.
export class Value {
  kind: i32 = NULL;
  b: bool = false;
  n: f64 = 0;
  s: string = "";
  items: Value[] = [];
  keys: string[] = [];

  // get returns the member k of an object, or null.
  get(k: string): Value | null {
    if (this.kind != OBJ) return null;
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] == k) return this.items[i];
    }
    return null;
  }

  // str returns member k as a string, or def when absent or not a string.
  str(k: string, def: string = ""): string {
    const v = this.get(k);
    return v != null && v.kind == STR ? v.s : def;
  }

  // bool returns member k as a boolean, false when absent.
  bool(k: string): bool {
    const v = this.get(k);
    return v != null && v.kind == BOOL && v.b;
  }

  // num returns member k as a number, or def.
  num(k: string, def: f64): f64 {
    const v = this.get(k);
    return v != null && v.kind == NUM ? v.n : def;
  }

  // arr returns member k's items, empty when absent or not an array.
  arr(k: string): Value[] {
    const v = this.get(k);
    return v != null && v.kind == ARR ? v.items : [];
  }

  // strings returns member k as an array of its string items.
  strings(k: string): string[] {
    const out: string[] = [];
    const a = this.arr(k);
    for (let i = 0; i < a.length; i++) if (a[i].kind == STR) out.push(a[i].s);
    return out;
  }
}

// Parser reads one JSON text; ok is false after the first error.
class Parser {
  t: string;
  p: i32 = 0;
  ok: bool = true;
  depth: i32 = 0;
  constructor(t: string) {
    this.t = t;
  }

  ws(): void {
    while (this.p < this.t.length) {
      const c = this.t.charCodeAt(this.p);
      if (c != 32 && c != 9 && c != 10 && c != 13) break;
      this.p++;
    }
  }

  fail(): Value {
    this.ok = false;
    return new Value();
  }

  lit(word: string): bool {
    if (this.t.substr(this.p, word.length) != word) return false;
    this.p += word.length;
    return true;
  }

  value(): Value {
    this.ws();
    if (this.p >= this.t.length || ++this.depth > 64) return this.fail();
    const c = this.t.charCodeAt(this.p);
    const v = new Value();
    if (c == 123) {
      v.kind = OBJ;
      this.p++;
      this.ws();
      if (this.t.charCodeAt(this.p) == 125) {
        this.p++;
      } else {
        while (this.ok) {
          this.ws();
          if (this.t.charCodeAt(this.p) != 34) return this.fail();
          const k = this.string();
          this.ws();
          if (this.t.charCodeAt(this.p) != 58) return this.fail();
          this.p++;
          v.keys.push(k);
          v.items.push(this.value());
          this.ws();
          const d = this.t.charCodeAt(this.p++);
          if (d == 125) break;
          if (d != 44) return this.fail();
        }
      }
    } else if (c == 91) {
      v.kind = ARR;
      this.p++;
      this.ws();
      if (this.t.charCodeAt(this.p) == 93) {
        this.p++;
      } else {
        while (this.ok) {
          v.items.push(this.value());
          this.ws();
          const d = this.t.charCodeAt(this.p++);
          if (d == 93) break;
          if (d != 44) return this.fail();
        }
      }
    } else if (c == 34) {
      v.kind = STR;
      v.s = this.string();
    } else if (this.lit("true")) {
      v.kind = BOOL;
      v.b = true;
    } else if (this.lit("false")) {
      v.kind = BOOL;
    } else if (this.lit("null")) {
      v.kind = NULL;
    } else if (c == 45 || (c >= 48 && c <= 57)) {
      const start = this.p;
      while (this.p < this.t.length) {
        const d = this.t.charCodeAt(this.p);
        if (!((d >= 48 && d <= 57) || d == 45 || d == 43 || d == 46 || d == 101 || d == 69)) break;
        this.p++;
      }
      v.kind = NUM;
      v.n = parseFloat(this.t.substring(start, this.p));
      if (isNaN(v.n)) return this.fail();
    } else {
      return this.fail();
    }
    this.depth--;
    return v;
  }

  hex4(): i32 {
    if (this.p + 4 > this.t.length) {
      this.ok = false;
      return 0;
    }
    const h = I32.parseInt(this.t.substr(this.p, 4), 16);
    this.p += 4;
    return h;
  }

  string(): string {
    this.p++; // opening quote
    let out = "";
    let start = this.p;
    while (this.ok) {
      if (this.p >= this.t.length) {
        this.ok = false;
        break;
      }
      const c = this.t.charCodeAt(this.p);
      if (c == 34) {
        out += this.t.substring(start, this.p);
        this.p++;
        break;
      }
      if (c < 32) {
        this.ok = false;
        break;
      }
      if (c != 92) {
        this.p++;
        continue;
      }
      out += this.t.substring(start, this.p);
      this.p++;
      const e = this.t.charCodeAt(this.p++);
      if (e == 110) out += "\n";
      else if (e == 116) out += "\t";
      else if (e == 114) out += "\r";
      else if (e == 98) out += "\b";
      else if (e == 102) out += "\f";
      else if (e == 117) out += String.fromCharCode(this.hex4());
      else if (e == 34 || e == 92 || e == 47) out += String.fromCharCode(e);
      else this.ok = false;
      start = this.p;
    }
    return out;
  }
}

// parse reads text as JSON; null when it is not well-formed.
export function parse(text: string): Value | null {
  const p = new Parser(text);
  const v = p.value();
  p.ws();
  if (!p.ok || p.p != text.length) return null;
  return v;
}

const HEX = "0123456789abcdef";

// quote encodes s as a JSON string.
export function quote(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 32 && c != 34 && c != 92) continue;
    out += s.substring(start, i);
    if (c == 34) out += '\\"';
    else if (c == 92) out += "\\\\";
    else if (c == 10) out += "\\n";
    else out += "\\u00" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
    start = i + 1;
  }
  return out + s.substring(start) + '"';
}

// quoteAll encodes a string array.
export function quoteAll(a: string[]): string {
  let out = "[";
  for (let i = 0; i < a.length; i++) {
    if (i > 0) out += ",";
    out += quote(a[i]);
  }
  return out + "]";
}
