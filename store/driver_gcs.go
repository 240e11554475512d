//go:build gcs

package store

import _ "gocloud.dev/blob/gcsblob" // gs://

func init() { schemes = append(schemes, "gs") }
