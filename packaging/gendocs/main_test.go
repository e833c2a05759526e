package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	t.Setenv("CREDD_SOCKET", "/home/builder/private.sock")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/4242")
	t.Setenv("XDG_CONFIG_HOME", "/home/builder/.config")
	out := t.TempDir()
	if err := generate(out); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"completions/credctl.bash": "credctl",
		"completions/credctl.zsh":  "#compdef credctl",
		"completions/credctl.fish": "complete -c credctl",
		"completions/credd.bash":   "credd",
		"man/credctl.1":            `.TH "CREDCTL" "1"`,
		"man/credd.8":              `.TH "CREDD" "8"`,
		"man/credd-check-config.8": "check-config",
		"man/credd-version.8":      "version",
	}
	for name, substr := range want {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Errorf("missing %s: %v", name, err)
			continue
		}
		if !strings.Contains(string(b), substr) {
			t.Errorf("%s does not contain %q", name, substr)
		}
	}
	// Nothing of the build machine's environment leaks into the docs.
	files, _ := filepath.Glob(filepath.Join(out, "*", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, leak := range []string{"/home/builder", "/run/user/4242"} {
			if strings.Contains(string(b), leak) {
				t.Errorf("%s mentions the build environment's %s", f, leak)
			}
		}
	}
	// The packages install every page gendocs writes; a page for cobra's
	// hidden help command or a stray extension would be shipped too.
	pages, err := filepath.Glob(filepath.Join(out, "man", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if !strings.HasSuffix(p, ".1") && !strings.HasSuffix(p, ".8") {
			t.Errorf("unexpected file %s", p)
		}
	}
}

// TestReproducible checks that two runs give byte-identical man pages, so
// package builds are reproducible.
func TestReproducible(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	a, b := t.TempDir(), t.TempDir()
	if err := generate(a); err != nil {
		t.Fatal(err)
	}
	if err := generate(b); err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(a, "man", "*"))
	if len(pages) == 0 {
		t.Fatal("no man pages generated")
	}
	for _, p := range pages {
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, "man", filepath.Base(p)))
		if err != nil || string(x) != string(y) {
			t.Errorf("%s differs between runs (err %v)", filepath.Base(p), err)
		}
	}
}
