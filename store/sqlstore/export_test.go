package sqlstore

// SetHooks makes s call lockTaken each time it has taken a lock, before it
// looks whether Close began meanwhile, and closing when Close has marked
// the store closed, before it waits for the lock takes in flight.
func SetHooks(s *Store, lockTaken, closing func()) { s.lockTaken, s.closing = lockTaken, closing }
