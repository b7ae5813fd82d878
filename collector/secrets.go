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
	// load fills *val (the setting named setting) from its file (the
	// setting fileSetting) or env.
	load := func(val *string, file, setting, fileSetting, env string) {
		switch {
		case file != "" && *val != "":
			errs = append(errs, badSetting(nil, "%s and {%s} both given", setting, fileSetting))
		case file != "":
			s, err := readSecret(file)
			if err != nil {
				errs = append(errs, badSetting(err, "{%s}", fileSetting))
			}
			*val = s
		case *val == "":
			*val = getenv(env)
		}
	}
	load(&c.APIToken, c.APITokenFile, "{APIToken}", "APITokenFile", EnvAPIToken)
	load(&c.AuthKey, c.AuthKeyFile, "{AuthKey}", "AuthKeyFile", EnvAuthKey)
	if c.MySQL != "" {
		dc, err := mysql.ParseDSN(c.MySQL)
		if err != nil {
			errs = append(errs, badSetting(err, "{MySQL}"))
		} else {
			pw := dc.Passwd
			load(&pw, c.MySQLPasswordFile, "the password in {MySQL}", "MySQLPasswordFile", EnvMySQLPassword)
			if pw != dc.Passwd {
				dc.Passwd = pw
				c.MySQL = dc.FormatDSN()
			}
		}
	} else if c.MySQLPasswordFile != "" {
		errs = append(errs, badSetting(nil, "{MySQLPasswordFile} needs {MySQL}"))
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
