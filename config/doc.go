// Package config loads credd's TOML configuration: the main file, its
// credd.d/*.toml drop-ins, strict decoding with file:line:col errors, and
// validation of every key against its provider and range.
package config
