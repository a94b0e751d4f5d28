//go:build unix

package tables

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"breakglass/internal/kql/value"
)

// TestFilesStream: Files hands rows to the engine while it reads, not
// after: through a FIFO, the writer sends the rest only once the engine
// has seen rows, which a catalog that read everything first would never
// let happen (the test would time out).
func TestFilesStream(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "logs.ndjson")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	line := func(i int) string {
		return fmt.Sprintf(`{"Type":"SigninLogs","TimeGenerated":"2024-06-20T08:00:00Z","Id":"s%d","UserPrincipalName":"u%d@contoso.com"}`+"\n", i, i)
	}
	seen := make(chan int, 1<<16)
	done := make(chan error, 1)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			done <- err
			return
		}
		defer w.Close()
		// Enough rows to fill the scanner's batches several times over.
		for i := 0; i < 20000; i++ {
			if _, err := w.WriteString(line(i)); err != nil {
				done <- err
				return
			}
		}
		select {
		case <-seen:
		case <-time.After(20 * time.Second):
			done <- fmt.Errorf("no row reached the engine while the input was still open")
			return
		}
		w.WriteString(line(20000))
		done <- nil
	}()
	n := 0
	err := NewFiles([]string{fifo}, FileOptions{Workers: 2}).Scan(context.Background(), "SigninLogs", func([]value.Value) error {
		n++
		select {
		case seen <- n:
		default:
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n != 20001 {
		t.Errorf("%d rows, want 20001", n)
	}
}
