package filestore

// replace renames the file at tmp over the record at path, atomically.
func replace(tmp, path string) error { return rename(tmp, path) }
