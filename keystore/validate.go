package keystore

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// nameRE is the shape of an entry name. It keeps names usable as file names,
// keyring accounts and systemd credential names, and leaves names starting
// with "." free for the store's own bookkeeping (the keyring index).
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidateName reports whether name can name a keystore entry.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid key name %q: use 1-128 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit", name)
	}
	return nil
}

// KindNames returns the known entry kinds, sorted.
func KindNames() []string {
	ks := make([]string, 0, len(Kinds))
	for k := range Kinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Validate checks an entry before it is stored: a valid name, a known kind,
// and exactly that kind's fields, none of them empty. Errors name fields but
// never show their values.
func Validate(e Entry) error {
	if err := ValidateName(e.Name); err != nil {
		return err
	}
	want, ok := Kinds[e.Kind]
	if !ok {
		return fmt.Errorf("key %q: unknown kind %q: use one of %s", e.Name, e.Kind, strings.Join(KindNames(), ", "))
	}
	var missing, unknown, empty, badUTF8 []string
	for _, f := range want {
		v, ok := e.Fields[f]
		switch {
		case !ok:
			missing = append(missing, f)
		case v.IsEmpty():
			empty = append(empty, f)
		case !utf8.Valid(v.Bytes()):
			badUTF8 = append(badUTF8, f)
		}
	}
	for f := range e.Fields {
		if !slices.Contains(want, f) {
			unknown = append(unknown, f)
		}
	}
	slices.Sort(unknown)
	var probs []string
	if len(missing) > 0 {
		probs = append(probs, "missing field "+quoteList(missing))
	}
	if len(empty) > 0 {
		probs = append(probs, "empty field "+quoteList(empty))
	}
	if len(badUTF8) > 0 {
		probs = append(probs, "field "+quoteList(badUTF8)+" is not valid UTF-8")
	}
	if len(unknown) > 0 {
		probs = append(probs, "unknown field "+quoteList(unknown))
	}
	if len(probs) > 0 {
		return fmt.Errorf("key %q of kind %q: %s (kind %q takes fields %s)",
			e.Name, e.Kind, strings.Join(probs, "; "), e.Kind, strings.Join(want, ", "))
	}
	return nil
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}
