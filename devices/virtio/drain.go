package virtio

// Drain serves every available chain of q with serve, pushing each with the
// byte count serve returns, then interrupts the driver once if the queue
// asks for it. It stops at the first error (a broken ring, or serve's own),
// which the device should answer with Signaller.NeedsReset.
func Drain(q *Queue, mem GuestMemory, sig Signaller, serve func(*Chain) (uint32, error)) error {
	pushed := false
	for {
		c, err := q.Pop(mem)
		if err != nil {
			return err
		}
		if c == nil {
			break
		}
		written, err := serve(c)
		if err == nil {
			err = q.PushUsed(mem, c.Head, written)
		}
		if err != nil {
			return err
		}
		pushed = true
	}
	if !pushed {
		return nil
	}
	need, err := q.NeedsInterrupt(mem)
	if err != nil {
		return err
	}
	if need {
		sig.Signal(InterruptUsedBuffer)
	}
	return nil
}
