package client

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestAppendRequest(t *testing.T) {
	tests := []struct {
		method string
		body   []byte
		want   string
	}{
		{"GET", nil, "GET /v1/x HTTP/1.1\r\nHost: credd\r\nUser-Agent: credd-client\r\nAccept: application/json\r\n\r\n"},
		{"POST", nil, "POST /v1/x HTTP/1.1\r\nHost: credd\r\nUser-Agent: credd-client\r\nAccept: application/json\r\nContent-Length: 0\r\n\r\n"},
		{"DELETE", nil, "DELETE /v1/x HTTP/1.1\r\nHost: credd\r\nUser-Agent: credd-client\r\nAccept: application/json\r\n\r\n"},
		{"PUT", []byte(`{"a":1}`), "PUT /v1/x HTTP/1.1\r\nHost: credd\r\nUser-Agent: credd-client\r\nAccept: application/json\r\n" +
			"Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"},
	}
	for _, tt := range tests {
		if got := string(appendRequest(nil, tt.method, "/v1/x", tt.body)); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.method, got, tt.want)
		}
	}
}

func TestValidTarget(t *testing.T) {
	for target, want := range map[string]bool{
		"/v1/profiles/tc-dev/credentials": true,
		"/v1/keys/tc%2Fmain%20key":        true,
		"":                                false,
		"v1/status":                       false,
		"/v1/a b":                         false,
		"/v1/a\r\nX-Evil: 1":              false,
		"/v1/\x7f":                        false,
		"/v1/\xc3\xa9":                    false,
	} {
		if got := validTarget(target); got != want {
			t.Errorf("validTarget(%q) = %v", target, got)
		}
	}
}

const canary = "CANARY-s3cr3t-http1"

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		status   int
		body     string
		reusable bool
		err      string // substring of the error; "" for success
	}{
		{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{}\n",
			status: 200, body: "{}\n", reusable: true},
		{name: "no reason phrase", in: "HTTP/1.1 404\r\ncontent-length: 2\r\n\r\nno", status: 404, body: "no", reusable: true},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\nE \r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n",
			status: 200, body: "Wikipedia in\r\n\r\nchunks.", reusable: true},
		{name: "chunked empty", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", status: 200, body: "", reusable: true},
		{name: "no content", in: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, body: "", reusable: true},
		{name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x"},
		{name: "http/1.0", in: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x"},
		{name: "close delimited", in: "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request",
			status: 400, body: "400 Bad Request"},
		{name: "duplicate equal length", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x", reusable: true},

		{name: "empty", in: "", err: "EOF"},
		{name: "truncated header", in: "HTTP/1.1 200 OK\r\nContent-Le", err: "unexpected EOF"},
		{name: "truncated body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", err: "unexpected EOF"},
		{name: "truncated chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\nabc", err: "unexpected EOF"},
		{name: "no last chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n", err: "unexpected EOF"},
		{name: "http/2", in: "HTTP/2 200\r\n\r\n", err: "bad status line"},
		{name: "not http", in: "SSH-2.0-OpenSSH_9.6\r\n", err: "bad status line"},
		{name: "bad code", in: "HTTP/1.1 2x0 OK\r\n\r\n", err: "bad status code"},
		{name: "code out of range", in: "HTTP/1.1 600 Odd\r\n\r\n", err: "bad status code"},
		{name: "informational", in: "HTTP/1.1 100 Continue\r\n\r\n", err: "informational"},
		{name: "bare LF", in: "HTTP/1.1 200 OK\nContent-Length: 0\n\n", err: "CRLF"},
		{name: "folded header", in: "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n", err: "folded"},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nContent-Length 0\r\n\r\n", err: "bad header line"},
		{name: "space before colon", in: "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", err: "bad header line"},
		{name: "negative length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: "bad Content-Length"},
		{name: "list length", in: "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx", err: "bad Content-Length"},
		{name: "huge length", in: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", err: "bad Content-Length"},
		{name: "conflicting lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", err: "conflicting"},
		{name: "length and chunked", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", err: "both"},
		{name: "gzip", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", err: `unsupported Transfer-Encoding "gzip, chunked"`},
		{name: "chunked twice", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: "unsupported Transfer-Encoding"},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", err: "bad chunk size"},
		{name: "huge chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", err: "bad chunk size"},
		{name: "chunk overrun", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", err: "chunk not ended"},
		{name: "body too large", in: "HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n", err: "larger than 64 bytes"},
		{name: "chunked too large", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" + strings.Repeat("a", 32) + "\r\n21\r\n", err: "larger than 64 bytes"},
		{name: "close delimited too large", in: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + strings.Repeat("a", 65), err: "larger than 64 bytes"},
		{name: "line too long", in: "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", maxLine) + "\r\n\r\n", err: "line longer than"},
		{name: "header too large", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Many: "+strings.Repeat("a", 1000)+"\r\n", 17) + "\r\n", err: "header larger than"},
		{name: "trailers too large", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + strings.Repeat("X-Many: "+strings.Repeat("a", 1000)+"\r\n", 17) + "\r\n", err: "header larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time finds parsing that assumes whole lines
			// arrive in one read.
			for _, rd := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				resp, err := readResponse(newReader(rd), 64)
				if tt.err != "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) {
						t.Fatalf("err = %v, want %q", err, tt.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if resp.status != tt.status || string(resp.body) != tt.body || resp.reusable != tt.reusable {
					t.Errorf("got status %d body %q reusable %v, want %d %q %v",
						resp.status, resp.body, resp.reusable, tt.status, tt.body, tt.reusable)
				}
			}
		})
	}
}

// Bytes after a response that were read with it make the connection
// unusable: the daemon sent something nobody asked for. (Ones that arrive
// later are caught by isOpen.)
func TestReadResponseExtraBytes(t *testing.T) {
	resp, err := readResponse(newReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n")), 64)
	if err != nil || string(resp.body) != "x" || resp.reusable {
		t.Errorf("got %+v, %v", resp, err)
	}
}

// Two responses on one connection parse one after the other.
func TestReadResponsePipelined(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n"
	rd := newReader(strings.NewReader(in))
	for _, want := range []string{"a", "b"} {
		rd.begin()
		resp, err := readResponse(rd, 64)
		if err != nil || string(resp.body) != want {
			t.Fatalf("got %+v, %v; want body %q", resp, err, want)
		}
	}
	rd.wipe()
	if !bytes.Equal(rd.buf, make([]byte, len(rd.buf))) {
		t.Error("wipe left bytes in the buffer")
	}
}

// No parse error quotes the body, which may hold a secret.
func TestReadResponseErrorsQuoteNoBody(t *testing.T) {
	for _, in := range []string{
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + canary + "\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n" + canary + "\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n" + canary + "\r\n\r\n",
		"HTTP/1.1 " + canary + "\r\n",
	} {
		_, err := readResponse(newReader(strings.NewReader(in)), 1<<10)
		if err == nil {
			t.Errorf("%q: accepted", in)
			continue
		}
		if strings.Contains(err.Error(), "CANARY") {
			t.Errorf("error quotes the input: %v", err)
		}
	}
}

func TestGrowWipesOldArray(t *testing.T) {
	b := grow(nil, 4)
	copy(b, "abcd")
	old := b[:cap(b)]
	b = grow(b, cap(b)) // must reallocate
	if !bytes.Equal(old, make([]byte, len(old))) {
		t.Errorf("old array holds %q after grow", old)
	}
	if string(b[:4]) != "abcd" {
		t.Errorf("grow lost data: %q", b[:4])
	}
}

func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nbad",
		"HTTP/1.0 204 No Content\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		resp, err := readResponse(newReader(bytes.NewReader(in)), 1<<10)
		if err != nil {
			if !errors.Is(err, errProtocol) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
				!strings.Contains(err.Error(), "larger than") {
				t.Fatalf("unexpected kind of error: %v", err)
			}
			return
		}
		if resp.status < 200 || resp.status > 599 || len(resp.body) > 1<<10 || len(resp.body) > len(in) {
			t.Fatalf("implausible response %d with %d body bytes from %d input bytes", resp.status, len(resp.body), len(in))
		}
	})
}
