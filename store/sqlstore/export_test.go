package sqlstore

// SetHooks makes s call lockTaken each time it has taken a lock, before it
// looks whether Close began meanwhile, and closing when Close has marked
// the store closed, before it waits for the lock takes in flight.
func SetHooks(s *Store, lockTaken, closing func()) { s.lockTaken, s.closing = lockTaken, closing }

// SetReleasingHook makes s call f in each Release once Close would wait for
// it, before its delete.
func SetReleasingHook(s *Store, f func()) { s.releasing = f }

// HoldWriter takes s's writing connection, so that every write waits,
// until the function it returns is called.
func HoldWriter(s *Store) (free func()) {
	s.wsem <- struct{}{}
	return func() { <-s.wsem }
}

// SetRenewingHook makes s call f in each lease renewal, before its write.
func SetRenewingHook(s *Store, f func()) { s.renewing = f }
