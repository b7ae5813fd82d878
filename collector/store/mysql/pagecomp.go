package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// providerAlgorithms are the page compression algorithms of MariaDB's
// provider plugins (provider_<name>, Debian mariadb-plugin-provider-<name>).
var providerAlgorithms = []string{"lz4", "snappy", "lzo", "lzma", "bzip2"}

// ProviderActive reports whether the server of db has the provider plugin
// of algorithm alg active.
func ProviderActive(ctx context.Context, db *sql.DB, alg string) bool {
	var status string
	err := db.QueryRowContext(ctx, "SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME = ?", "provider_"+alg).Scan(&status)
	return err == nil && status == "ACTIVE"
}

// ParsePageCompression parses the --mysql-page-compression value: "off"
// or "0" (off), "zlib" (level 1), "zlib:N" or the old form "N" (zlib at
// level N, 1..9), or a provider plugin's algorithm "lz4", "snappy",
// "lzo", "lzma", "bzip2". It returns Config.PageCompressionAlgorithm and
// Config.PageCompression.
func ParsePageCompression(s string) (alg string, level int, err error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "", "off", "0":
		return "", 0, nil
	case "zlib":
		return "zlib", 1, nil
	}
	if slices.Contains(providerAlgorithms, s) {
		return s, 1, nil
	}
	num := s
	if rest, ok := strings.CutPrefix(s, "zlib:"); ok {
		num = rest
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 9 {
		return "", 0, fmt.Errorf("page compression %q: want off, %s, zlib, zlib:N or N (zlib level 1-9)", s, strings.Join(providerAlgorithms, ", "))
	}
	return "zlib", n, nil
}

// checkPageCompression checks, when Config.PageCompression is on, that
// the server is MariaDB, has the algorithm's provider plugin and has it
// as innodb_compression_algorithm, and logs what new tables use.
func (b *Backend) checkPageCompression(ctx context.Context) error {
	if b.cfg.PageCompression == 0 {
		return nil
	}
	alg := b.cfg.PageCompressionAlgorithm
	var version string
	if err := b.db.QueryRowContext(ctx, "SELECT @@version").Scan(&version); err != nil {
		return fmt.Errorf("page compression: read server version: %w", err)
	}
	if !strings.Contains(strings.ToLower(version), "mariadb") {
		return fmt.Errorf("page compression %s: server %s is not MariaDB (MySQL has no PAGE_COMPRESSED tables); drop --mysql-page-compression", alg, version)
	}
	if alg != "zlib" && !ProviderActive(ctx, b.db, alg) {
		return fmt.Errorf("page compression %s: the server has no active provider_%s plugin: install mariadb-plugin-provider-%s and load it (plugin_load_add=provider_%s, or INSTALL SONAME 'provider_%s')", alg, alg, alg, alg, alg)
	}
	var cur string
	if err := b.db.QueryRowContext(ctx, "SELECT @@GLOBAL.innodb_compression_algorithm").Scan(&cur); err != nil {
		return fmt.Errorf("page compression: read innodb_compression_algorithm: %w", err)
	}
	if !strings.EqualFold(cur, alg) {
		return fmt.Errorf("page compression %s: the server's innodb_compression_algorithm is %s; set it (SET GLOBAL innodb_compression_algorithm=%s, and in the server's config) — the collector does not change this server-wide setting", alg, cur, alg)
	}
	if alg == "zlib" {
		b.env.Logger.Info("mysql page compression", "algorithm", alg, "level", b.cfg.PageCompression)
	} else {
		b.env.Logger.Info("mysql page compression", "algorithm", alg)
	}
	return nil
}
