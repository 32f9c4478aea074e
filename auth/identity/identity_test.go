package identity

import (
	"errors"
	"strings"
	"testing"
)

func TestEmail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string // want "" = refused
	}{
		{"plain", "admin@example.com", "admin@example.com"},
		{"case and spaces folded", "  Admin@Example.COM\t", "admin@example.com"},
		{"fullwidth letters are the ascii address", "ａｄｍｉｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", "admin@example.com"},
		{"ligature and superscript compatibility", "ﬁle²@example.com", "file2@example.com"},
		{"non-latin single script", "иван@пример.рф", "иван@пример.рф"},
		{"accented latin", "josé@example.com", "josé@example.com"},
		{"decomposed accent composes", "jose\u0301@example.com", "josé@example.com"},
		{"japanese mix is one script", "たなか田中@example.jp", "たなか田中@example.jp"},
		{"zero-width space", "admin@example.com\u200b", ""},
		{"zero-width space inside", "ad\u200bmin@example.com", ""},
		{"zero-width joiner", "admin\u200d@example.com", ""},
		{"word joiner", "admin\u2060@example.com", ""},
		{"byte order mark", "\ufeffadmin@example.com", ""},
		{"soft hyphen", "ad\u00admin@example.com", ""},
		{"bidi override", "admin\u202e@example.com", ""},
		{"bidi isolate", "\u2066admin@example.com", ""},
		{"left-to-right mark", "admin@example.com\u200e", ""},
		{"hangul filler", "admin\u3164@example.com", ""},
		{"variation selector", "admin\ufe0f@example.com", ""},
		{"nul", "admin@example.com\u0000", ""},
		{"nul inside", "ad\u0000min@example.com", ""},
		{"escape", "\u001b[31madmin@example.com", ""},
		{"del", "admin\u007f@example.com", ""},
		{"c1 control", "admin\u0085@example.com", ""},
		{"newline inside", "admin@exa\nmple.com", ""},
		{"inner space", "ad min@example.com", ""},
		{"no-break space inside", "ad\u00a0min@example.com", ""},
		{"ideographic space inside", "ad\u3000min@example.com", ""},
		{"cyrillic a among latin", "\u0430dmin@example.com", ""},
		{"greek omicron in domain", "admin@ex\u03bfmple.com", ""},
		{"cyrillic domain label among latin", "admin@exаmple.com", ""},
		{"null literal", "null", ""},
		{"empty", "", ""},
		{"no at", "admin.example.com", ""},
		{"two ats", "a@b@example.com", ""},
		{"no local part", "@example.com", ""},
		{"undotted domain", "admin@localhost", ""},
		{"ip literal", "admin@[127.0.0.1]", "admin@[127.0.0.1]"},
		{"bare ip domain", "admin@127.0.0.1", "admin@127.0.0.1"},
		{"leading dot domain", "admin@.example.com", ""},
		{"trailing dot domain", "admin@example.com.", ""},
		{"double dot domain", "admin@example..com", ""},
		{"invalid utf-8", "admin\xff@example.com", ""},
		{"too long", strings.Repeat("a", 250) + "@example.com", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Email(tc.in)
			if tc.want == "" {
				if err == nil || !errors.Is(err, ErrInvalidEmail) {
					t.Fatalf("Email(%q) = %q, %v; want ErrInvalidEmail", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Email(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// An address and its canonical form are the same identity: normalising is
// idempotent.
func TestEmailIdempotent(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"ＡＤＭＩＮ@example.com", "jose\u0301@Example.com", "иван@пример.рф"} {
		once, err := Email(in)
		if err != nil {
			t.Fatal(err)
		}
		if twice, err := Email(once); err != nil || twice != once {
			t.Errorf("Email(Email(%q)) = %q, %v; want %q", in, twice, err, once)
		}
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "Demo Admin", "Demo Admin"},
		{"trimmed and collapsed", "  Demo \t\n  Admin ", "Demo Admin"},
		{"zero-width stripped", "Demo\u200b Admin\u200b", "Demo Admin"},
		{"bidi override stripped", "\u202eDemo Admin\u202c", "Demo Admin"},
		{"bidi isolates stripped", "\u2067nimdA\u2069", "nimdA"},
		{"nul stripped", "Demo\u0000 Admin", "Demo Admin"},
		{"escape stripped", "\u001b[31mDemo", "[31mDemo"},
		{"fullwidth folded", "Ｄｅｍｏ", "Demo"},
		{"hangul filler stripped", "Demo\u3164Admin", "DemoAdmin"},
		{"no-break space is a space", "Demo\u00a0Admin", "Demo Admin"},
		{"accents kept", "José Müller", "José Müller"},
		{"non-latin kept", "Иван Петров", "Иван Петров"},
		{"only invisible", "\u200b\u200d\u202e", ""},
		{"empty", "", ""},
		{"null literal kept as text", "null", "null"},
		{"invalid utf-8 replaced", "Demo\xff", "Demo\uFFFD"},
		{"longest allowed", strings.Repeat("é", MaxNameRunes), strings.Repeat("é", MaxNameRunes)},
		{"long only before stripping", strings.Repeat("a\u200b", MaxNameRunes), strings.Repeat("a", MaxNameRunes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, err := Name(tc.in); err != nil || got != tc.want {
				t.Fatalf("Name(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	if _, err := Name(strings.Repeat("a", MaxNameRunes+1)); !errors.Is(err, ErrNameTooLong) {
		t.Errorf("a name of %d characters: err = %v, want ErrNameTooLong", MaxNameRunes+1, err)
	}
}
