// Package tests holds checks that look at credd from the outside: the
// systemd units under systemd-analyze, the Linux packages as installed by
// dpkg, and the emulators and harnesses the end-to-end tests drive.
package tests
