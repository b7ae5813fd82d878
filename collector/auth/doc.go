// Package auth holds the console's accounts: users with a [Role] (admin,
// operator, read-only), local passwords hashed with argon2id
// ([HashPassword]), LDAP / Active Directory logins with group → role
// mapping ([LDAP]), login sessions with a CSRF token each, per-user API
// tokens, user settings, saved searches and an audit log, all in a
// [Store] on the collector's MySQL/MariaDB database.
//
// Secrets never stay in the database in the clear: session ids and API
// tokens are kept as SHA-256 hashes (they are 256-bit random values, so a
// fast hash suffices), passwords as argon2id PHC strings. A first admin is
// created by [Store.EnsureAdmin] from a password the operator supplies;
// there is no default password.
package auth
