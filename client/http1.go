package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The client speaks just enough HTTP/1.1 to talk to credd's own net/http
// server, and nothing more: net/http's client would pull crypto/tls and
// crypto/x509 into credctl, whose package inits alone cost more than a
// whole credctl run should (see tests/bench BenchmarkCredctlGetWarm).
//
// It is strict: responses must use CRLF line ends, a Content-Length or a
// chunked Transfer-Encoding (or, when neither is given, end at connection
// close, as net/http's own early error replies do), and stay within the
// size limits below.

// Size limits of a response.
const (
	// maxLine bounds one line of the status line, headers or chunk sizes.
	maxLine = 4 << 10
	// maxHeader bounds the status line and all headers together, trailers
	// included; the daemon sends a few hundred bytes.
	maxHeader = 16 << 10
)

// errProtocol marks a response that is not well-formed HTTP/1.1.
var errProtocol = errors.New("malformed HTTP response")

func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errProtocol}, args...)...)
}

// appendRequest appends an HTTP/1.1 request for target to b. A body, when
// not nil, is JSON. POST and PUT always carry a Content-Length, as a server
// may otherwise wait for a body that never comes.
func appendRequest(b []byte, method, target string, body []byte) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: credd\r\nUser-Agent: credd-client\r\nAccept: application/json\r\n"...)
	if body != nil {
		b = append(b, "Content-Type: application/json\r\n"...)
	}
	if body != nil || method == "POST" || method == "PUT" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// validTarget reports whether target can go on a request line as it is:
// an absolute path of visible ASCII. Names are escaped before they get
// here; this stops anything that slipped through from splitting the
// request.
func validTarget(target string) bool {
	if target == "" || target[0] != '/' {
		return false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// response is a parsed response. Body holds the whole body; callers clear
// it once decoded, since a credentials body holds secrets.
type response struct {
	status int
	body   []byte
	// reusable means the connection may carry another request: HTTP/1.1,
	// no "Connection: close", the body ended where its framing said and
	// nothing followed it.
	reusable bool
}

// reader buffers a connection for parsing responses. It is used instead of
// bufio.Reader so that its buffer, which holds body bytes, can be wiped.
type reader struct {
	rd   io.Reader
	buf  []byte
	r, w int // buf[r:w] is unread
	// got counts bytes read from rd since the last response began: a
	// request on a reused connection that failed with got == 0 never
	// reached the daemon's handler.
	got int
}

func newReader(rd io.Reader) *reader {
	return &reader{rd: rd, buf: make([]byte, maxLine)}
}

// fill reads more bytes into the buffer, moving unread ones to its start.
func (b *reader) fill() error {
	if b.r > 0 {
		copy(b.buf, b.buf[b.r:b.w])
		b.w -= b.r
		b.r = 0
	}
	if b.w == len(b.buf) {
		return protoErr("line longer than %d bytes", maxLine)
	}
	// A net.Conn does not return (0, nil); a few tries guard against a
	// reader that does.
	for range 10 {
		n, err := b.rd.Read(b.buf[b.w:])
		b.w += n
		b.got += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// line returns the next CRLF-terminated line without its CRLF, and charges
// its length to *budget. The line is valid until the next call.
func (b *reader) line(budget *int) ([]byte, error) {
	for {
		if i := bytes.IndexByte(b.buf[b.r:b.w], '\n'); i >= 0 {
			l := b.buf[b.r : b.r+i]
			b.r += i + 1
			*budget -= i + 1
			if *budget < 0 {
				return nil, protoErr("header larger than %d bytes", maxHeader)
			}
			l, ok := bytes.CutSuffix(l, []byte{'\r'})
			if !ok {
				return nil, protoErr("line not ended by CRLF")
			}
			return l, nil
		}
		if err := b.fill(); err != nil {
			if err == io.EOF && b.got > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// readFull fills p from the buffer, then from the connection.
func (b *reader) readFull(p []byte) error {
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	if n == len(p) {
		return nil
	}
	m, err := io.ReadFull(b.rd, p[n:])
	b.got += m
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// buffered reports how many read bytes are not yet consumed.
func (b *reader) buffered() int { return b.w - b.r }

// begin starts a new response.
func (b *reader) begin() { b.got = 0 }

// wipe zeroes the buffer.
func (b *reader) wipe() {
	clear(b.buf)
	b.r, b.w = 0, 0
}

// readResponse reads one response to a request that was not HEAD.
// maxBody bounds its body.
func readResponse(b *reader, maxBody int) (*response, error) {
	budget := maxHeader
	line, err := b.line(&budget)
	if err != nil {
		return nil, err
	}
	proto, rest, ok := bytes.Cut(line, []byte{' '})
	var http11 bool
	switch {
	case ok && string(proto) == "HTTP/1.1":
		http11 = true
	case ok && string(proto) == "HTTP/1.0":
	default:
		return nil, protoErr("bad status line")
	}
	code, _, _ := bytes.Cut(rest, []byte{' '})
	if len(code) != 3 || code[0] < '1' || code[0] > '5' || !isDigits(code) {
		return nil, protoErr("bad status code")
	}
	resp := &response{status: int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')}
	if resp.status < 200 {
		// Only sent in answer to Expect or by handlers that ask for it;
		// credd does neither.
		return nil, protoErr("unexpected informational status %d", resp.status)
	}

	var (
		contentLength = -1
		chunked       bool
		closing       = !http11
	)
	for {
		line, err := b.line(&budget)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, protoErr("folded header line")
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return nil, protoErr("bad header line")
		}
		value = bytes.Trim(value, " \t")
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if !isDigits(value) || len(value) > 18 {
				return nil, protoErr("bad Content-Length")
			}
			n, _ := strconv.Atoi(string(value))
			if contentLength >= 0 && n != contentLength {
				return nil, protoErr("conflicting Content-Length headers")
			}
			contentLength = n
		case asciiEqualFold(name, "Transfer-Encoding"):
			if chunked || !asciiEqualFold(value, "chunked") {
				return nil, protoErr("unsupported Transfer-Encoding %q", truncate(value, 40))
			}
			chunked = true
		case asciiEqualFold(name, "Connection"):
			for _, tok := range bytes.Split(value, []byte{','}) {
				if asciiEqualFold(bytes.Trim(tok, " \t"), "close") {
					closing = true
				}
			}
		}
	}

	switch {
	case resp.status == 204 || resp.status == 304:
		// No body, whatever the headers say.
	case chunked && contentLength >= 0:
		// Either framing may be a lie; guessing invites smuggling.
		return nil, protoErr("both Content-Length and Transfer-Encoding")
	case chunked:
		if resp.body, err = readChunked(b, maxBody, budget); err != nil {
			return nil, err
		}
	case contentLength >= 0:
		if contentLength > maxBody {
			return nil, fmt.Errorf("response larger than %d bytes", maxBody)
		}
		resp.body = make([]byte, contentLength)
		if err := b.readFull(resp.body); err != nil {
			clear(resp.body)
			return nil, err
		}
	default:
		// No framing: the body ends when the connection does. net/http
		// answers a request it cannot parse this way (400, 431).
		if resp.body, err = readToEOF(b, maxBody); err != nil {
			return nil, err
		}
		closing = true
	}
	resp.reusable = !closing && b.buffered() == 0
	return resp, nil
}

// readChunked reads a chunked body and its trailers (discarded), with
// budget header bytes left for the trailers.
func readChunked(b *reader, maxBody, budget int) ([]byte, error) {
	var body []byte
	for {
		// Chunk-size lines are not headers, but bounding them by the same
		// budget would make a long body fail; each line is bounded by
		// maxLine instead.
		lineBudget := maxLine
		line, err := b.line(&lineBudget)
		if err != nil {
			clear(body)
			return nil, err
		}
		size, _, _ := bytes.Cut(line, []byte{';'}) // chunk extensions are ignored
		size = bytes.TrimRight(size, " \t")
		n, ok := parseHex(size)
		if !ok {
			clear(body)
			return nil, protoErr("bad chunk size")
		}
		if n == 0 {
			break
		}
		if n > uint64(maxBody-len(body)) {
			clear(body)
			return nil, fmt.Errorf("response larger than %d bytes", maxBody)
		}
		body = grow(body, int(n))
		if err := b.readFull(body[len(body)-int(n):]); err != nil {
			clear(body)
			return nil, err
		}
		lineBudget = maxLine
		if end, err := b.line(&lineBudget); err != nil || len(end) != 0 {
			clear(body)
			if err == nil {
				err = protoErr("chunk not ended by CRLF")
			}
			return nil, err
		}
	}
	for {
		line, err := b.line(&budget)
		if err != nil {
			clear(body)
			return nil, err
		}
		if len(line) == 0 {
			break
		}
	}
	if body == nil {
		body = []byte{}
	}
	return body, nil
}

// readToEOF reads the rest of the connection, up to maxBody bytes.
func readToEOF(b *reader, maxBody int) ([]byte, error) {
	if b.buffered() > maxBody {
		return nil, fmt.Errorf("response larger than %d bytes", maxBody)
	}
	body := append([]byte(nil), b.buf[b.r:b.w]...)
	b.r = b.w
	rest, err := io.ReadAll(io.LimitReader(b.rd, int64(maxBody-len(body))+1))
	b.got += len(rest)
	if err != nil {
		clear(body)
		clear(rest)
		return nil, err
	}
	if len(body)+len(rest) > maxBody {
		clear(body)
		clear(rest)
		return nil, fmt.Errorf("response larger than %d bytes", maxBody)
	}
	body = append(body, rest...)
	clear(rest)
	return body, nil
}

// grow extends b by n bytes. When it must reallocate it wipes the old
// array, which may hold secrets.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*cap(b)+n)
	copy(nb, b)
	clear(b)
	return nb
}

func isDigits(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseHex parses a chunk size: 1 to 15 hex digits, so that it fits an
// int64 with room to spare.
func parseHex(s []byte) (uint64, bool) {
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	return n, true
}

// asciiEqualFold compares an ASCII header token case-insensitively.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// statusText names the statuses credd and net/http answer with, for
// messages about bodies that carry none.
func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 204:
		return "No Content"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 413:
		return "Request Entity Too Large"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return ""
}
