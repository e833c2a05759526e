package tests

import (
	"bytes"
	"os"
	"testing"
)

// TestVectorsMatchShared keeps the in-repo copy of the official signing
// vectors (tests/vectors/signing.json) identical to the shared original when
// that sits beside the checkout.
func TestVectorsMatchShared(t *testing.T) {
	shared, err := os.ReadFile("../../shared/vectors/signing.json")
	if err != nil {
		t.Skipf("no shared vectors beside the checkout: %v", err)
	}
	ours, err := os.ReadFile("vectors/signing.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shared, ours) {
		t.Fatal("tests/vectors/signing.json differs from ../shared/vectors/signing.json; copy the shared one in")
	}
}
