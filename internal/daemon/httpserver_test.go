package daemon

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestHTTPServerDropsSlowAndIdleClients: a client that sends a webhook
// body a byte at a time, or stays connected and idle after a request, is
// disconnected within the server's bounds instead of holding the
// connection for ever.
func TestHTTPServerDropsSlowAndIdleClients(t *testing.T) {
	oldRead, oldIdle, oldHeader := serverReadTimeout, serverIdleTimeout, serverReadHeaderTimeout
	serverReadTimeout, serverIdleTimeout, serverReadHeaderTimeout = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { serverReadTimeout, serverIdleTimeout, serverReadHeaderTimeout = oldRead, oldIdle, oldHeader })

	// The daemon itself, so the test fails if serve stops using these bounds.
	e := newEnv(t)
	r := start(t, e.config(t, "sources:\n  - type: file\n    path: %[1]s\n"), Options{})
	addr := r.d.Addr().String()

	closedWithin := func(t *testing.T, c net.Conn, within time.Duration) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(within))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("connection still open after %v", within)
				}
				return // closed by the server
			}
		}
	}

	t.Run("slow body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /ack/0123abcd?exp=1&sig=x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
		// A byte now and then, never the whole body.
		go func() {
			for range 20 {
				time.Sleep(100 * time.Millisecond)
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
		closedWithin(t, c, 1500*time.Millisecond)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		closedWithin(t, c, 1500*time.Millisecond)
	})
}
