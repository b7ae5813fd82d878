package collector

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// Environment variables a secret is taken from when neither its flag nor
// its file flag is given (so it never shows in ps).
const (
	EnvAPIToken      = "XHEP_API_TOKEN"
	EnvAuthKey       = "XHEP_AUTH_KEY"
	EnvMySQLPassword = "XHEP_MYSQL_PASSWORD"
)

// LoadSecrets fills APIToken, AuthKey and the password of the MySQL DSN
// from their files (APITokenFile, AuthKeyFile, MySQLPasswordFile: the
// first line, surrounding whitespace removed) or, when neither the value
// nor its file is given, from the environment (EnvAPIToken, EnvAuthKey,
// EnvMySQLPassword; getenv is os.Getenv outside tests). A value given
// twice (flag and file, or a DSN with a password and a password file) is
// an error, as is an empty file.
func (c *Config) LoadSecrets(getenv func(string) string) error {
	var errs []error
	load := func(val *string, file, flagName, env string) {
		switch {
		case file != "" && *val != "":
			errs = append(errs, fmt.Errorf("--%s and --%s-file both given", flagName, flagName))
		case file != "":
			s, err := readSecret(file)
			if err != nil {
				errs = append(errs, fmt.Errorf("--%s-file: %w", flagName, err))
			}
			*val = s
		case *val == "":
			*val = getenv(env)
		}
	}
	load(&c.APIToken, c.APITokenFile, "api-token", EnvAPIToken)
	load(&c.AuthKey, c.AuthKeyFile, "auth-key", EnvAuthKey)
	if c.MySQL != "" {
		dc, err := mysql.ParseDSN(c.MySQL)
		if err != nil {
			errs = append(errs, fmt.Errorf("--mysql: %w", err))
		} else {
			pw := dc.Passwd
			load(&pw, c.MySQLPasswordFile, "mysql-password", EnvMySQLPassword)
			if pw != dc.Passwd {
				dc.Passwd = pw
				c.MySQL = dc.FormatDSN()
			}
		}
	} else if c.MySQLPasswordFile != "" {
		errs = append(errs, errors.New("--mysql-password-file needs --mysql"))
	}
	return errors.Join(errs...)
}

// readSecret returns the first line of a file, trimmed; an empty one is an
// error.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s, _, _ := strings.Cut(string(b), "\n")
	if s = strings.TrimSpace(s); s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}
