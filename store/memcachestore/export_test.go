package memcachestore

// SetLockTakenHook makes s call f each time it has taken a lock on the
// server, before it looks whether Close began meanwhile.
func SetLockTakenHook(s *Store, f func()) { s.lockTaken = f }

// Closing returns the channel that Close closes first, before it waits for
// the lock takes in flight.
func Closing(s *Store) <-chan struct{} { return s.closed }
