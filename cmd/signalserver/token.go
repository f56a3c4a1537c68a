package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rollbox/rollbox/signalserver"
)

// loadSecret returns a secret given as the flag -name or read from the flag
// -name-file (at most one of them), or nil when neither is set.
func loadSecret(name, secret, file string) ([]byte, error) {
	switch {
	case secret != "" && file != "":
		return nil, fmt.Errorf("-%s and -%s-file exclude each other", name, name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("-%s-file: %w", name, err)
		}
		b = bytes.TrimRight(b, "\r\n") // files written by echo end in a newline
		if len(b) == 0 {
			return nil, fmt.Errorf("-%s-file %s is empty", name, file)
		}
		return b, nil
	case secret != "":
		return []byte(secret), nil
	}
	return nil, nil
}

// tokenCommand is "signalserver token": it prints a room token signed with
// the same secret the server is given (flag, file or environment twin).
func tokenCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("signalserver token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: signalserver token -room NAME [-ttl 1h] [-max-next N]\n\n"+
			"Prints a token for ws://host/NAME?token=TOKEN. The secret comes from -auth-secret,\n"+
			"-auth-secret-file, $SIGNALSERVER_AUTH_SECRET or $SIGNALSERVER_AUTH_SECRET_FILE.\n\n")
		fs.PrintDefaults()
	}
	room := fs.String("room", "", "room id the token opens (as the server decodes it from the path; not empty)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	maxNext := fs.Int("max-next", 0, "when above 0, joins must use ?next= between 1 and this")
	secret := fs.String("auth-secret", getenv("SIGNALSERVER_AUTH_SECRET"), "HS256 secret shared with the server")
	file := fs.String("auth-secret-file", getenv("SIGNALSERVER_AUTH_SECRET_FILE"), "file holding the secret")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected arguments %q", fs.Args())
	}
	if *room == "" {
		// The room at / cannot be opened by a token: a token without a room
		// names none (see signalserver.MintToken).
		return errors.New("token: -room is required and must not be empty")
	}
	key, err := loadSecret("auth-secret", *secret, *file)
	if err != nil {
		return err
	}
	if key == nil {
		return errors.New("token: no secret: give -auth-secret or -auth-secret-file")
	}
	tok, err := signalserver.MintToken(key, *room, *ttl, *maxNext, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
