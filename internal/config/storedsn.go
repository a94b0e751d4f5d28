package config

import "errors"

// CheckStoreDSN is store.dsn's validation for a DSN given outside a
// configuration file (store migrate --to postgres:): nil, or what is wrong
// with it and how to write it. It never quotes the DSN.
func CheckStoreDSN(dsn string) error {
	if msg := checkDSN(dsn); msg != "" {
		return errors.New("the DSN " + msg + " (" + storeDSNHint + ")")
	}
	return nil
}
