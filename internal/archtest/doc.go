// Package archtest holds the test that keeps docs/architecture.md's layout
// table true: every package is listed, and imports only packages below it.
package archtest
