// Package identity normalises and validates the identities people type:
// email addresses and display names. It is the one place that decides what
// an address may contain, so the API, the web forms and the limiters all see
// the same canonical form.
//
// Both are put in Unicode NFKC first, so a fullwidth or otherwise compatible
// spelling of an address is the address itself. An email address is refused
// when it holds control, format (zero-width, bidi override) or whitespace
// characters, or when a part of it mixes scripts (a Cyrillic "а" among Latin
// letters); a display name has such characters stripped instead.
package identity

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxEmailBytes is the longest address accepted (RFC 5321's path limit less
// the angle brackets).
const MaxEmailBytes = 254

// MaxNameRunes is the longest display name accepted, in characters.
const MaxNameRunes = 200

// ErrInvalidEmail is wrapped by every error of Email.
var ErrInvalidEmail = errors.New("invalid email address")

// ErrNameTooLong is returned by Name for a name over MaxNameRunes.
var ErrNameTooLong = fmt.Errorf("display name longer than %d characters", MaxNameRunes)

// Email returns the canonical form of an email address: NFKC, without
// surrounding spaces, in lower case. It refuses (with an error wrapping
// ErrInvalidEmail) invalid UTF-8, control, format and inner whitespace
// characters, a part mixing scripts, and anything that is not one local
// part, "@" and a dotted domain within MaxEmailBytes.
func Email(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("identity: %w: not UTF-8", ErrInvalidEmail)
	}
	e := strings.ToLower(strings.TrimSpace(norm.NFKC.String(s)))
	for _, r := range e {
		switch {
		case unicode.IsControl(r):
			return "", fmt.Errorf("identity: %w: control character %U", ErrInvalidEmail, r)
		case unicode.Is(unicode.Cf, r) || invisible(r):
			return "", fmt.Errorf("identity: %w: invisible character %U", ErrInvalidEmail, r)
		case unicode.IsSpace(r):
			return "", fmt.Errorf("identity: %w: space", ErrInvalidEmail)
		}
	}
	if len(e) > MaxEmailBytes {
		return "", fmt.Errorf("identity: %w: longer than %d bytes", ErrInvalidEmail, MaxEmailBytes)
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || strings.Contains(domain, "@") || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", fmt.Errorf("identity: %w: want local-part@domain.tld", ErrInvalidEmail)
	}
	if mixedScripts(local) {
		return "", fmt.Errorf("identity: %w: the local part mixes scripts", ErrInvalidEmail)
	}
	for _, label := range strings.Split(domain, ".") {
		if mixedScripts(label) {
			return "", fmt.Errorf("identity: %w: a domain label mixes scripts", ErrInvalidEmail)
		}
	}
	return e, nil
}

// Name returns a display name in NFKC with control, format (zero-width,
// bidi override) and other invisible characters removed, runs of spaces
// collapsed to one and no surrounding spaces. Invalid UTF-8 is replaced.
// A name over MaxNameRunes after this is refused with ErrNameTooLong.
func Name(s string) (string, error) {
	s = norm.NFKC.String(strings.ToValidUTF8(s, "\uFFFD"))
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || invisible(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	n := b.String()
	if utf8.RuneCountInString(n) > MaxNameRunes {
		return "", fmt.Errorf("identity: %w", ErrNameTooLong)
	}
	return n, nil
}

// invisible reports characters that render as nothing but are not in the
// format category: the Hangul fillers, the combining grapheme joiner and
// the variation selectors.
func invisible(r rune) bool {
	switch {
	case r == '\u034F', r == '\u115F', r == '\u1160', r == '\u3164', r == '\uFFA0':
		return true
	case r >= '\uFE00' && r <= '\uFE0F', r >= 0xE0100 && r <= 0xE01EF:
		return true
	}
	return false
}

// scriptGroups are the scripts a letter is checked against, most common
// first. Han, Hiragana, Katakana, Hangul and Bopomofo are written together
// (Japanese, Korean, Chinese) and count as one.
var scriptGroups = []struct {
	name   string
	tables []*unicode.RangeTable
}{
	{"Latin", []*unicode.RangeTable{unicode.Latin}},
	{"Cyrillic", []*unicode.RangeTable{unicode.Cyrillic}},
	{"Greek", []*unicode.RangeTable{unicode.Greek}},
	{"CJK", []*unicode.RangeTable{unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Bopomofo}},
	{"Armenian", []*unicode.RangeTable{unicode.Armenian}},
	{"Cherokee", []*unicode.RangeTable{unicode.Cherokee}},
}

// mixedScripts reports whether the letters of s come from more than one
// script. Digits, punctuation and marks (the Common and Inherited scripts)
// go with any.
func mixedScripts(s string) bool {
	seen := ""
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		sc := "Latin"
		if r >= utf8.RuneSelf {
			sc = scriptOf(r)
		}
		if seen != "" && sc != seen {
			return true
		}
		seen = sc
	}
	return false
}

// scriptOf names the script group of letter r; letters outside the listed
// groups are named by their own script.
func scriptOf(r rune) string {
	for _, g := range scriptGroups {
		if unicode.In(r, g.tables...) {
			return g.name
		}
	}
	for name, t := range unicode.Scripts {
		if unicode.Is(t, r) {
			return name
		}
	}
	return "Unknown"
}
