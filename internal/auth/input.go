package auth

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadPassword reads a new password for the CLI from in, never from a flag
// (flags show in ps and shell history). On a terminal it prompts on prompt
// and reads it twice without echo; otherwise it takes the first line (a
// pipe, a file), without its line ending. The password is checked
// (CheckPassword).
func ReadPassword(in io.Reader, prompt io.Writer, who string) (string, error) {
	f, isFile := in.(*os.File)
	if isFile && isTerminal(f) {
		restore, err := noEcho(f)
		if err != nil {
			return "", fmt.Errorf("turning off echo: %w", err)
		}
		defer restore()
		br := bufio.NewReaderSize(in, MaxPasswordBytes+2)
		fmt.Fprintf(prompt, "New password for %s (at least %d characters): ", who, MinPasswordRunes)
		first, err := readLine(br)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if err := CheckPassword(first); err != nil {
			return "", err
		}
		fmt.Fprintf(prompt, "Type it again: ")
		again, err := readLine(br)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if !subtleEq(first, again) {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
		return first, nil
	}
	pw, err := readLine(bufio.NewReaderSize(in, MaxPasswordBytes+2))
	if err != nil {
		return "", err
	}
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	return pw, nil
}

// readLine reads one line of at most MaxPasswordBytes.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", fmt.Errorf("the password is longer than %d bytes", MaxPasswordBytes)
	case err != nil && !errors.Is(err, io.EOF):
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	case len(line) == 0:
		return "", errors.New("no password on standard input: type it at the prompt, or pipe it in (printf '%s' \"$PASSWORD\" | breakglass users ...)")
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
	if len(s) > MaxPasswordBytes {
		return "", fmt.Errorf("the password is longer than %d bytes", MaxPasswordBytes)
	}
	return s, nil
}
