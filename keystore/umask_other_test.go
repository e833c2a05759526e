//go:build !unix

package keystore

func syscallUmask(m int) int { return m }
