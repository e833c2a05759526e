// Package secret provides Value, a byte string that refuses to be printed.
//
// Every formatting path (fmt verbs, slog, JSON, text marshalling) renders a
// Value as "[redacted]", so a secret that reaches a log line or an error by
// accident leaks nothing. Code that really needs the bytes calls Reveal, which
// is easy to find in review.
package secret

import (
	"fmt"
	"log/slog"
)

// Redacted is what every formatting path prints instead of a secret.
const Redacted = "[redacted]"

// Value is a secret byte string. The zero Value is empty. Copies share the
// underlying bytes, so Zero wipes them for every copy.
type Value struct {
	b []byte
}

// New returns a Value holding a copy of s.
func New(s string) Value { return Value{b: []byte(s)} }

// FromBytes returns a Value that takes ownership of b.
func FromBytes(b []byte) Value { return Value{b: b} }

// Reveal returns the secret as a string. Call it only where the value leaves
// the process on purpose (the wire, a signature).
func (v Value) Reveal() string { return string(v.b) }

// Bytes returns the secret's bytes without copying. Do not retain them.
func (v Value) Bytes() []byte { return v.b }

// Len reports the length of the secret in bytes.
func (v Value) Len() int { return len(v.b) }

// IsEmpty reports whether the secret is empty.
func (v Value) IsEmpty() bool { return len(v.b) == 0 }

// Equal reports whether two values hold the same bytes.
func (v Value) Equal(o Value) bool { return string(v.b) == string(o.b) }

// Zero overwrites the secret's bytes. Every copy of v sees the zeros.
func (v Value) Zero() { clear(v.b) }

// String implements fmt.Stringer.
func (Value) String() string { return Redacted }

// GoString implements fmt.GoStringer.
func (Value) GoString() string { return Redacted }

// Format implements fmt.Formatter so that no verb, %x included, shows the bytes.
func (Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue implements slog.LogValuer.
func (Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalText implements encoding.TextMarshaler; it never reveals the secret.
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalJSON implements json.Marshaler; it never reveals the secret.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }
